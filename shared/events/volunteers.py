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
    type: ClassVar[str] = "org.tongxin.points.credited"
    need_id: str
    completion_id: str
    hours: float
    total_hours: float
    stars: int
    credited_at: datetime


class PointsRedeemed(PointsEvent):
    type: ClassVar[str] = "org.tongxin.points.redeemed"
    redemption_id: str
    item: str
    redeemed_at: datetime


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
]
