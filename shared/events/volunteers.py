"""Events the volunteers service publishes on the volunteers stream. Never a phone number."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import EventPayload
from shared.events.needs import Location

OrgLevel = Literal["district", "street", "community", "grid"]


class VolunteersEvent(EventPayload):
    stream: ClassVar[str] = "volunteers"
    source: ClassVar[str] = "/tongxin/volunteers"


class OrgUnitUpdated(VolunteersEvent):
    type: ClassVar[str] = "org.tongxin.org_unit.updated"
    path: str
    name: str
    level: OrgLevel
    parent: str | None = None
    updated_by: str
    updated_at: datetime

    def subject(self) -> str:
        return self.path

    def community(self) -> str:
        return self.path


class VolunteerRegistered(VolunteersEvent):
    type: ClassVar[str] = "org.tongxin.volunteer.registered"
    volunteer_id: str
    # The public stream's view of a person (shared.visibility): the name masked (王**), the
    # home rounded to 0.01° (≈1 km), never the phone or the party organisation.
    name: str = Field(description="masked: the first character, then * (王**)")
    home_community_id: str
    party_org: str | None = Field(
        default=None, description="no longer sent (personal data): always null"
    )
    # A party member (党员: a party organisation is recorded), as a flag: metrics counts party
    # members apart from other volunteers without the stream carrying the organisation.
    party_member: bool = False
    skills: list[str] = []
    location: Location | None = Field(
        default=None, description="home, rounded to 0.01° (about 1 km); never exact"
    )
    active: bool = True
    # HMAC of the normalised phone under TONGXIN_PHONE_LINK_KEY (shared.phones): the
    # identity service links a signed-in phone to its volunteers by it. Not the number.
    identity_link: str | None = None
    registered_at: datetime

    def subject(self) -> str:
        return self.volunteer_id

    def community(self) -> str:
        return self.home_community_id


class VolunteerUpdated(VolunteerRegistered):
    """A volunteer's profile changed or they were deactivated (`active` false)."""

    type: ClassVar[str] = "org.tongxin.volunteer.updated"
    updated_at: datetime


class OrganizationRegistered(VolunteersEvent):
    type: ClassVar[str] = "org.tongxin.organization.registered"
    organization_id: str
    name: str
    kind: str
    community_id: str
    registered_at: datetime

    def subject(self) -> str:
        return self.organization_id

    def community(self) -> str:
        return self.community_id


class TeamEvent(VolunteersEvent):
    team_id: str
    community_id: str

    def subject(self) -> str:
        return self.team_id

    def community(self) -> str:
        return self.community_id


class TeamFormed(TeamEvent):
    type: ClassVar[str] = "org.tongxin.team.formed"
    name: str
    service_type: str
    leader_id: str
    member_ids: list[str]
    formed_at: datetime


class TeamMemberJoined(TeamEvent):
    type: ClassVar[str] = "org.tongxin.team.member_joined"
    volunteer_id: str
    joined_at: datetime


class TeamLeaderChanged(TeamEvent):
    type: ClassVar[str] = "org.tongxin.team.leader_changed"
    leader_id: str
    previous_leader_id: str
    changed_at: datetime


class PointsEvent(VolunteersEvent):
    volunteer_id: str
    community_id: str
    points: int
    balance: int

    def subject(self) -> str:
        return self.volunteer_id

    def community(self) -> str:
        return self.community_id


class PointsCredited(PointsEvent):
    """Points for a completion's verified hours. A later revision carries the difference
    (`points` and `hours` negative for a correction downwards: a reversing entry)."""

    type: ClassVar[str] = "org.tongxin.points.credited"
    need_id: str
    completion_id: str
    hours: float
    total_hours: float
    stars: int
    credited_at: datetime
    revision: int = 1


class PointsRedeemed(PointsEvent):
    type: ClassVar[str] = "org.tongxin.points.redeemed"
    redemption_id: str
    item: str
    redeemed_at: datetime


class DistrictRulesChanged(VolunteersEvent):
    """A district's local rules (shared.rules.DistrictRules); the whole set each time."""

    type: ClassVar[str] = "org.tongxin.district.rules_changed"
    district: str
    star_hours: list[int]
    points_per_hour: int
    auto_confirm_days: int
    volunteer_claim_cap: int
    organization_claim_cap: int
    check_in_required: bool
    changed_by: str
    changed_at: datetime

    def subject(self) -> str:
        return self.district

    def community(self) -> str:
        return self.district


class PointsReturned(PointsEvent):
    """Points held for a love-supermarket reservation came back (it lapsed, or no stock)."""

    type: ClassVar[str] = "org.tongxin.points.returned"
    reservation_id: str
    returned_at: datetime


class ShopItemChanged(VolunteersEvent):
    """An item of a community's love supermarket (爱心超市): created, repriced, restocked."""

    type: ClassVar[str] = "org.tongxin.shop_item.changed"
    item_id: str
    community_id: str
    name: str
    points: int
    units: int  # stocked so far, handed over or not
    active: bool
    changed_by: str
    changed_at: datetime

    def subject(self) -> str:
        return self.item_id

    def community(self) -> str:
        return self.community_id


class ReservationEvent(VolunteersEvent):
    reservation_id: str
    item_id: str
    community_id: str
    volunteer_id: str
    points: int

    def subject(self) -> str:
        return self.reservation_id

    def community(self) -> str:
        return self.community_id


class ItemReserved(ReservationEvent):
    type: ClassVar[str] = "org.tongxin.reservation.made"
    expires_at: datetime
    reserved_at: datetime


class ItemHandedOver(ReservationEvent):
    type: ClassVar[str] = "org.tongxin.reservation.handed_over"
    handed_over_by: str
    handed_over_at: datetime


class ReservationLapsed(ReservationEvent):
    type: ClassVar[str] = "org.tongxin.reservation.lapsed"
    lapsed_at: datetime


class CertificateEvent(VolunteersEvent):
    serial: str
    volunteer_id: str
    community_id: str  # the issuing community

    def subject(self) -> str:
        return self.serial

    def community(self) -> str:
        return self.community_id


class CertificateIssued(CertificateEvent):
    """A certificate of voluntary service (志愿服务记录证明) was issued; no personal data."""

    type: ClassVar[str] = "org.tongxin.certificate.issued"
    total_hours: float
    services: int
    document_hash: str
    issued_by: str
    issued_at: datetime


class CertificateRevoked(CertificateEvent):
    type: ClassVar[str] = "org.tongxin.certificate.revoked"
    reason: str
    revoked_by: str
    revoked_at: datetime


VOLUNTEERS_EVENTS: list[type[EventPayload]] = [
    OrgUnitUpdated,
    VolunteerRegistered,
    VolunteerUpdated,
    OrganizationRegistered,
    TeamFormed,
    TeamMemberJoined,
    TeamLeaderChanged,
    PointsCredited,
    PointsRedeemed,
    DistrictRulesChanged,
    CertificateIssued,
    CertificateRevoked,
    PointsReturned,
    ShopItemChanged,
    ItemReserved,
    ItemHandedOver,
    ReservationLapsed,
]
