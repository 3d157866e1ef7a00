"""What clients of the volunteers service may write and what they read back.

Long because it holds one strict model per command and per public shape of four resources.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.volunteers.domain.certificates import Certificate
from services.volunteers.domain.org_unit import OrgUnit
from services.volunteers.domain.organization import Organization, OrganizationKind
from services.volunteers.domain.passbook import LedgerEntry, Passbook
from services.volunteers.domain.supermarket import Item
from services.volunteers.domain.team import Team, TeamServiceType
from services.volunteers.domain.volunteer import Volunteer
from shared.events.needs import Location
from shared.events.volunteers import OrgLevel
from shared.inputs import JSON_INTEGER, Day, GeoPoint, Ident, Name, Phone, Points
from shared.inputs import StrictBody as Strict
from shared.orgpath import OrgPath
from shared.visibility import FieldView, mask_name


class OrgUnitPut(Strict):
    name: Name = Field(min_length=1, max_length=60, examples=["东风社区"])


class OrgUnitRef(BaseModel):
    path: str
    name: str
    level: OrgLevel


class OrgUnitPublic(OrgUnitRef):
    parent: str | None
    created_at: datetime
    updated_at: datetime
    children: list[OrgUnitRef]

    @classmethod
    def of(cls, unit: OrgUnit, children: list[OrgUnit]) -> OrgUnitPublic:
        return cls(
            **unit.model_dump(exclude={"updated_by"}),
            children=[OrgUnitRef(path=c.path, name=c.name, level=c.level) for c in children],
        )


class VolunteerCreate(Strict):
    name: Name = Field(max_length=60)
    phone: Phone
    home_community_id: OrgPath
    party_org: Name | None = Field(default=None, max_length=120)
    skills: list[Annotated[Name, Field(max_length=40)]] = Field(default=[], max_length=30)
    pledge_signed: bool = Field(
        strict=True,
        description="must be true: the service pledge (服务承诺书)",
        json_schema_extra={"const": True},
    )
    location: GeoPoint | None = None


class VolunteerUpdate(Strict):
    """Phone and home community identify a report-in and cannot change: to move or change
    number, deactivate and report in again."""

    name: Name | None = Field(default=None, max_length=60)
    party_org: Name | None = Field(default=None, max_length=120)
    skills: list[Annotated[Name, Field(max_length=40)]] | None = Field(default=None, max_length=30)
    location: GeoPoint | None = None


class VolunteerPublic(BaseModel):
    id: str
    name: str = Field(description="whole for admins in scope and the volunteer; else 王**")
    phone: str = Field(description="whole for admins in scope and the volunteer; else masked")
    home_community_id: str
    party_org: str | None = Field(description="admins in scope and the volunteer only")
    skills: list[str]
    location: Location | None = Field(
        description="exact for admins in scope and the volunteer; else rounded to 0.01° (≈1 km)"
    )
    pledge_signed: bool
    active: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, v: Volunteer, view: FieldView) -> VolunteerPublic:
        data = v.model_dump(exclude={"registered_by", "location"})
        data["name"] = view.text("name", v.name)
        data["phone"] = view.text("phone", v.phone)
        data["party_org"] = view.optional("party_org", v.party_org)
        return cls(**data, location=view.place("location", v.location))


class VolunteerPage(BaseModel):
    items: list[VolunteerPublic]
    next_cursor: str | None


class OrganizationCreate(Strict):
    name: Name = Field(max_length=120)
    kind: OrganizationKind
    community_id: OrgPath


class OrganizationPublic(BaseModel):
    id: str
    name: str
    kind: OrganizationKind
    community_id: str
    created_at: datetime

    @classmethod
    def of(cls, org: Organization) -> OrganizationPublic:
        return cls(**org.model_dump(exclude={"registered_by"}))


class OrganizationPage(BaseModel):
    items: list[OrganizationPublic]
    next_cursor: str | None


class TeamCreate(Strict):
    community_id: OrgPath
    name: Name = Field(max_length=60)
    service_type: TeamServiceType
    leader_id: Annotated[Ident, Field(max_length=64)]


class VolunteerRef(Strict):
    volunteer_id: Annotated[Ident, Field(max_length=64)]


class TeamPublic(BaseModel):
    id: str
    community_id: str
    name: str
    service_type: TeamServiceType
    leader_id: str
    member_ids: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, team: Team) -> TeamPublic:
        return cls(**team.model_dump(exclude={"formed_by"}))


class TeamPage(BaseModel):
    items: list[TeamPublic]
    next_cursor: str | None


class PassbookPublic(BaseModel):
    volunteer_id: str
    community_id: str
    balance: int = Field(description="points (积分)")
    hours: float = Field(description="cumulative service hours")
    stars: int = Field(
        description="0-5 by the district's thresholds (default ★ 100 h, ★★ 300 h, ★★★ 600 h, "
        "★★★★ 1,000 h, ★★★★★ 1,500 h)"
    )
    ledger: list[LedgerEntry] = Field(description="newest first; credits positive")

    @classmethod
    def of(cls, book: Passbook, ledger: list[LedgerEntry], stars: int) -> PassbookPublic:
        return cls(
            volunteer_id=book.volunteer_id,
            community_id=book.community_id,
            balance=book.balance,
            hours=book.hours,
            stars=stars,
            ledger=ledger,
        )


class CertificateRequest(Strict):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    volunteer_id: Ident
    period_from: Day = Field(alias="from")
    period_to: Day = Field(alias="to")
    issuer_id: OrgPath | None = Field(
        default=None, description="the recording community; default: home"
    )


class CertificateRevoke(Strict):
    reason: Name = Field(max_length=500)


class CertificateCheck(BaseModel):
    """What anyone may learn of a serial: enough to check a printed copy, no more."""

    serial: str
    status: Literal["valid", "revoked"]
    volunteer: str = Field(description="masked name")
    total_hours: float
    issuer_id: str
    issuer_name: str
    issued_on: date
    document_hash: str = Field(description="SHA-256 printed on the certificate")
    revoked_reason: str | None = None

    @classmethod
    def of(cls, cert: Certificate) -> CertificateCheck:
        return cls(
            serial=cert.serial,
            status=cert.status,
            volunteer=mask_name(cert.volunteer_name),  # FIELD_MATRIX: certificate_check
            total_hours=cert.total_hours,
            issuer_id=cert.issuer_id,
            issuer_name=cert.issuer_name,
            issued_on=cert.issued_on,
            document_hash=cert.document_hash,
            revoked_reason=cert.revoked_reason,
        )


class ItemCreate(Strict):
    community_id: OrgPath
    name: Name = Field(max_length=60, examples=["大米 5kg"])
    points: Points
    stock: Annotated[int, Field(strict=True, ge=0, le=10_000), JSON_INTEGER]


class ItemChange(Strict):
    points: Points | None = None
    add_stock: Annotated[int, Field(strict=True, ge=0, le=10_000), JSON_INTEGER] = 0
    active: bool | None = Field(default=None, strict=True)


class ItemPublic(BaseModel):
    id: str
    community_id: str
    name: str
    points: int
    stock: int = Field(description="units free to reserve now")
    active: bool

    @classmethod
    def of(cls, item: Item, stock: int) -> ItemPublic:
        return cls(
            **item.model_dump(include={"id", "community_id", "name", "points", "active"}),
            stock=stock,
        )


class ReservationCreate(Strict):
    volunteer_id: Ident


class HandOver(Strict):
    code: str = Field(pattern=r"^[0-9]{6}$")


class RedemptionCreate(Strict):
    item: Name = Field(max_length=120, examples=["大米 5kg"])
    points: Points


class RedemptionPublic(BaseModel):
    redemption_id: str
    volunteer_id: str
    item: str
    points: int
    balance: int


# --- volunteers -----------------------------------------------------------------------


class NewVolunteer(BaseModel):
    name: str
    phone: str
    home_community_id: str
    party_org: str | None = None
    skills: list[str] = []
    pledge_signed: bool
    location: Location | None = None


class VolunteerChanges(BaseModel):
    name: str | None = None
    party_org: str | None = None
    skills: list[str] | None = None
    location: Location | None = None


# --- bulk reporting in ----------------------------------------------------------------

RowStatus = Literal["created", "duplicate", "error"]


class RowResult(BaseModel):
    row: int
    status: RowStatus
    volunteer_id: str | None = None
    field: str | None = None
    reason: str | None = None


class ImportReport(BaseModel):
    total: int
    created: int
    duplicates: int
    errors: int
    rows: list[RowResult]
