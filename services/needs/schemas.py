"""What clients of the needs service write (one validated type per command) and
what they read back (the public shapes of needs, claims, pages and the audit trail).

Long because it holds one strict model per command and per public shape of the service's API.

Validation here is of shape (types, lengths, ranges); rules that need the state live
in domain/. The stored state holds more than a reader may see: the requester's phone
is masked for readers outside the scope (domain/policy.py).
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.needs.domain.completion import resident_of
from services.needs.domain.need import (
    Claim,
    Completion,
    Confirmation,
    Need,
    NeedStatus,
    Requester,
    Review,
    ms,
)
from services.needs.domain.policy import sees_phone
from shared.auth import Principal
from shared.events.needs import Kind, Location, OnBehalfOf, Openness
from shared.http import ApiError
from shared.inputs import (
    JSON_INTEGER,
    Count,
    GeoPoint,
    Ident,
    Moment,
    Name,
    Text,
    WebUrl,
    one_form_of,
)
from shared.mongo.client import Document
from shared.orgpath import OrgPath
from shared.visibility import view_for


class RequesterPublic(BaseModel):
    """Whole for admins in scope, active claimers and the requester; else 王** and
    138****5678."""

    name: str
    phone: str


class CancellationPublic(BaseModel):
    by: str
    at: datetime
    reason: str | None


class NeedPublic(BaseModel):
    id: str
    community_id: str
    title: str
    description: str
    category: str
    kind: Kind
    slots: int
    slots_taken: int
    requester: RequesterPublic
    requester_id: str
    beneficiaries: int
    location: Location | None = Field(
        description="exact for admins in scope, active claimers and the requester; else 0.01°"
    )
    skills: list[str]
    due_at: datetime | None
    openness: Openness
    status: NeedStatus
    claims: list[Claim] = Field(
        description="expired claims (counted against nobody) are shown to admins in scope only"
    )
    review: Review | None
    cancellation: CancellationPublic | None
    completion: Completion | None
    confirmation: Confirmation | None
    posted_by: str
    on_behalf_of: OnBehalfOf | None = None  # the resident a grid worker posted for
    photo: bool = Field(
        default=False,
        description=(
            "a photo is attached (GET /v1/needs/{id}/photo); told, on the GETs of needs, only "
            "to those who may see it: the requester, admins in scope, active claimers"
        ),
    )
    created_at: datetime
    updated_at: datetime
    version: int


class PhotoInfo(BaseModel):
    need_id: str
    width: int
    height: int
    bytes: int = Field(description="size of the stored (re-encoded) JPEG")


class NeedPage(BaseModel):
    items: list[NeedPublic]
    next_cursor: str | None


class ClaimCreated(Claim):
    need_id: str
    need_status: NeedStatus
    slots_total: int
    slots_taken: int


class HistoryEntry(BaseModel):
    version: int
    action: str
    actor: str
    role: str | None
    reason: str | None
    at: datetime
    status: NeedStatus
    events: list[str]
    # A grid worker's act for a resident: whom for, and who acted.
    on_behalf_of: OnBehalfOf | None = None
    acted_by: str | None = None
    # the claims this change concerned (claimed, released, expired, completed, cancelled)
    claim_ids: list[str] = []


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_cursor: str | None = None


def need_view(p: Principal, need: Need, version: int) -> NeedPublic:
    # The requester's phone, name and exact place: admins in scope, active claimers, the
    # requester (shared.visibility).
    view = view_for(p, "need", need.community_id, need.requester_id, claimer=sees_phone(p, need))
    cancellation = (
        CancellationPublic(**need.cancellation.model_dump(include={"by", "at", "reason"}))
        if need.cancellation
        else None
    )
    return NeedPublic(
        **need.model_dump(
            include={
                "id",
                "community_id",
                "title",
                "description",
                "category",
                "kind",
                "slots",
                "slots_taken",
                "requester_id",
                "beneficiaries",
                "skills",
                "due_at",
                "openness",
                "status",
                "posted_by",
                "created_at",
                "updated_at",
            }
        ),
        location=view.place("location", need.location),
        claims=need.claims
        if p.administers(need.community_id)
        else [c for c in need.claims if c.release_reason != "expired"],
        review=need.review,
        completion=need.completion,
        confirmation=need.confirmation,
        cancellation=cancellation,
        on_behalf_of=need.on_behalf_of.model_copy(
            update={"name": view.text("on_behalf_of.name", need.on_behalf_of.name)}
        )
        if need.on_behalf_of
        else None,
        requester=RequesterPublic(
            name=view.text("requester.name", need.requester.name),
            phone=view.text("requester.phone", need.requester.phone),
        ),
        version=version,
    )


def claim_view(need: Need, claim: Claim) -> ClaimCreated:
    return ClaimCreated(
        **claim.model_dump(),
        need_id=need.id,
        need_status=need.status,
        slots_total=need.slots,
        slots_taken=need.slots_taken,
    )


def history_view(commits: list[Document]) -> HistoryPage:
    items = []
    for commit in commits:
        meta: dict[str, Any] = commit.get("meta") or {}
        behalf = _on_behalf(commit)
        items.append(
            HistoryEntry(
                version=commit["version"],
                action=meta.get("action", "unknown"),
                actor=meta.get("actor", "unknown"),
                role=meta.get("role"),
                reason=meta.get("reason"),
                at=meta.get("at") or commit["created_at"],
                status=commit["state"]["status"],
                events=[e["type"] for e in commit.get("events", [])],
                claim_ids=_claims_concerned(commit),
                on_behalf_of=behalf[0] if behalf else None,
                acted_by=behalf[1] if behalf else None,
            )
        )
    return HistoryPage(items=items)


def _on_behalf(commit: Document) -> tuple[OnBehalfOf, str] | None:
    """The resident a grid worker acted for in this commit. The event names them masked (a
    public stream); the history is for admins in scope: the name whole, from the state."""
    for stored in commit.get("events", []):
        data = json.loads(stored["body"]).get("data", {})
        if data.get("on_behalf_of") and data.get("acted_by"):
            state = {**commit["state"], "id": commit["state"].get("id", commit.get("aggregate_id"))}
            return resident_of(Need.model_validate(state)), str(data["acted_by"])
    return None


def _claims_concerned(commit: Document) -> list[str]:
    ids: list[str] = []
    for stored in commit.get("events", []):
        data = json.loads(stored["body"]).get("data", {})
        found = [data["claim_id"]] if data.get("claim_id") else []
        found += data.get("claim_ids", []) + data.get("released_claim_ids", [])
        ids.extend(i for i in found if i not in ids)
    return ids


# A page cursor: the last need's time (microseconds since 1970, UTC) and id. Any cursor of
# this form names a position, so one the API did not issue still pages (from there).
CURSOR_PATTERN = r"^[0-9]{1,16}_[A-Za-z0-9-]{1,64}$"
_CURSOR = re.compile(CURSOR_PATTERN)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def encode_cursor(position: tuple[datetime, str] | None) -> str | None:
    if position is None:
        return None
    at, need_id = position
    micros = (at.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)
    return f"{max(micros, 0)}_{need_id}"


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    if not _CURSOR.fullmatch(cursor):  # the parameter's pattern refuses it first
        raise ApiError(422, "cursor: 无效的分页游标 / invalid cursor", details={"field": "cursor"})
    micros, _, need_id = cursor.partition("_")
    return EPOCH + timedelta(microseconds=int(micros)), need_id


Slots = Annotated[int, Field(strict=True, ge=1, le=500), JSON_INTEGER]
Cents = Annotated[int, Field(strict=True, ge=0, le=10**12), JSON_INTEGER]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostNeed(Command):
    community_id: OrgPath
    title: Annotated[Name, StringConstraints(max_length=120)]
    description: Annotated[Text, StringConstraints(max_length=4000)] = ""
    category: Annotated[Name, StringConstraints(max_length=60)]
    kind: Kind = "wish"
    slots: Slots = 1
    requester: Requester
    # An admin posting on a resident's behalf names the resident's user id.
    requester_id: Ident | None = None
    beneficiaries: Count = 0
    location: GeoPoint | None = None
    skills: list[Annotated[Name, StringConstraints(max_length=40)]] = Field(
        default=[], max_length=20
    )
    due_at: Moment | None = None
    # Who may claim: the need's community (default), or volunteers of its whole street or
    # district.
    openness: Openness = "community"

    @field_validator("due_at")
    @classmethod
    def _to_ms(cls, value: datetime | None) -> datetime | None:
        return None if value is None else ms(value)


class RejectNeed(Command):
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=500)]


class CancelNeed(Command):
    reason: Annotated[Text, StringConstraints(max_length=500)] | None = None


class ClaimNeed(Command):
    """One of three forms: a volunteer for themselves, a team leader for listed members,
    an admin for an organisation (which may take several slots)."""

    model_config = ConfigDict(
        json_schema_extra=one_form_of(
            {
                "volunteer": (["volunteer_id"], []),
                "team": (["team_id", "member_ids"], []),
                "organization": (["organization_id"], ["slots"]),
            }
        )
    )

    volunteer_id: Ident | None = None
    team_id: Ident | None = None
    member_ids: list[Ident] | None = Field(default=None, min_length=1, max_length=500)
    organization_id: Ident | None = None
    slots: Slots | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        forms = [
            self.volunteer_id is not None,
            self.team_id is not None,
            self.organization_id is not None,
        ]
        if sum(forms) != 1:
            raise ValueError(
                "give exactly one of volunteer_id, team_id (with member_ids), organization_id"
            )
        if (self.team_id is None) != (self.member_ids is None):
            raise ValueError("a team claim lists its member_ids, and only a team claim does")
        if self.slots is not None and self.organization_id is None:
            raise ValueError("slots is given only for an organisation's claim")
        return self


class HoursEntry(Command):
    volunteer_id: Ident
    hours: float = Field(strict=True, gt=0, le=24, allow_inf_nan=False)


class CompleteNeed(Command):
    hours: list[HoursEntry] = Field(default=[], max_length=500)
    beneficiaries_served: Count = 0
    goods_count: Count = 0
    funds_cents: Cents = 0
    note: Annotated[Text, StringConstraints(max_length=2000)] | None = None
    evidence_urls: list[WebUrl] = Field(default=[], max_length=20)


class VerifyCompletion(Command):
    """An admin's or grid worker's verification; corrected figures (admin) need a reason."""

    hours: list[HoursEntry] | None = Field(default=None, min_length=1, max_length=500)
    beneficiaries_served: Count | None = None
    goods_count: Count | None = None
    funds_cents: Cents | None = None
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=500)] | None = None


class CheckIn(Command):
    """The 6-digit code the resident's or grid worker's phone shows."""

    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    volunteer_id: Ident | None = None  # defaults to the caller


class DisputeCompletion(Command):
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=500)]


class ConfirmNeed(Command):
    rating: Annotated[int, Field(strict=True, ge=1, le=5), JSON_INTEGER]
    comment: Annotated[Text, StringConstraints(max_length=1000)] | None = None


class CheckInCode(BaseModel):
    code: str
    valid_until: datetime
