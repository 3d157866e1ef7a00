"""Events the needs service publishes on the needs stream. Never a requester's phone."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.envelope import EventPayload

ClaimantType = Literal["volunteer", "team", "organization"]
Kind = Literal["wish", "project"]
Openness = Literal["community", "street", "district"]
# Declared hours wait for verification; "review" when a plausibility rule flagged them.
# Completions published before verification existed carry no status: they were final.
HoursStatus = Literal["verified", "declared", "review"]
# Who verified: the resident's confirmation, an admin, a grid worker for the resident, or
# nobody within the district's auto-confirm days.
VerifiedVia = Literal["resident", "admin", "grid_worker", "auto"]


class Location(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    lat: float
    lon: float


class VolunteerHours(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    volunteer_id: str
    hours: float


class OnBehalfOf(BaseModel):
    """The resident a grid worker (网格员) acted for: their name and masked phone (on the
    public stream the name masked too: shared.visibility.public_behalf)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str = Field(
        description="masked (王**) on the public stream, and to readers the field matrix "
        "(docs/security.md) does not show it whole"
    )
    phone: str = Field(description="always masked (138****5678)")


# A need's place on the public stream (shared.visibility.coarse_location): enough for notify to
# match volunteers by distance, never a door.
COARSE_PLACE = "the need's place rounded to 0.01° (about 1 km); never exact"


class NeedEvent(EventPayload):
    stream: ClassVar[str] = "needs"
    source: ClassVar[str] = "/tongxin/needs"

    need_id: str
    community_id: str
    category: str
    kind: Kind

    def subject(self) -> str:
        return self.need_id

    def community(self) -> str:
        return self.community_id


class NeedPosted(NeedEvent):
    type: ClassVar[str] = "org.tongxin.need.posted"
    title: str
    slots: int
    beneficiaries: int
    skills: list[str] = []
    location: Location | None = Field(default=None, description=COARSE_PLACE)
    due_at: datetime | None = None
    requester_id: str
    posted_by: str
    status: str
    posted_at: datetime
    # Set when a grid worker posted for a resident who is not online (acted_by: the worker).
    on_behalf_of: OnBehalfOf | None = None
    acted_by: str | None = None


class NeedApproved(NeedEvent):
    type: ClassVar[str] = "org.tongxin.need.approved"
    title: str
    slots: int
    skills: list[str] = []
    location: Location | None = Field(default=None, description=COARSE_PLACE)
    due_at: datetime | None = None
    requester_id: str
    approved_by: str
    posted_at: datetime
    approved_at: datetime


class NeedRejected(NeedEvent):
    type: ClassVar[str] = "org.tongxin.need.rejected"
    reason: str
    requester_id: str
    rejected_by: str
    rejected_at: datetime
    title: str | None = None


class NeedCancelled(NeedEvent):
    type: ClassVar[str] = "org.tongxin.need.cancelled"
    previous_status: str
    requester_id: str
    cancelled_by: str
    reason: str | None = None
    cancelled_at: datetime
    title: str | None = None
    # Claims still active when the need was cancelled end with it (no separate release event).
    released_claim_ids: list[str] = []
    volunteer_ids: list[str] = []


class ClaimEvent(NeedEvent):
    claim_id: str
    claimant_type: ClaimantType
    volunteer_ids: list[str] = []
    team_id: str | None = None
    organization_id: str | None = None
    slots: int
    slots_total: int
    slots_taken: int
    need_status: str
    requester_id: str
    title: str | None = None


class ProjectClaimed(ClaimEvent):
    type: ClassVar[str] = "org.tongxin.project.claimed"
    claimed_by: str
    posted_at: datetime
    claimed_at: datetime
    # Released automatically ("expired") if not completed by then.
    expires_at: datetime | None = None


class ProjectClaimReleased(ClaimEvent):
    type: ClassVar[str] = "org.tongxin.project.claim_released"
    # "released" by the claimer or an admin; "expired" when released automatically.
    reason: Literal["released", "expired"]
    released_by: str
    released_at: datetime


class TaskCompleted(NeedEvent):
    type: ClassVar[str] = "org.tongxin.task.completed"
    completion_id: str
    claim_ids: list[str]
    volunteer_ids: list[str] = []
    team_ids: list[str] = []
    organization_ids: list[str] = []
    hours: list[VolunteerHours]
    beneficiaries_served: int
    goods_count: int
    funds_cents: int
    note: str | None = None
    evidence_urls: list[str] = []
    requester_id: str
    completed_by: str
    posted_at: datetime
    due_at: datetime | None = None
    completed_at: datetime
    title: str | None = None
    hours_status: HoursStatus = "verified"
    review_reasons: list[str] = []
    # Slots planned but closed unfilled when the claimers who came completed the need.
    slots_unfilled: int = 0


class TaskConfirmed(NeedEvent):
    type: ClassVar[str] = "org.tongxin.task.confirmed"
    completion_id: str
    rating: int
    comment: str | None = None
    volunteer_ids: list[str] = []
    team_ids: list[str] = []
    organization_ids: list[str] = []
    confirmed_by: str
    confirmed_at: datetime
    title: str | None = None
    requester_id: str | None = None
    # Set when a grid worker confirmed for the resident they posted for.
    on_behalf_of: OnBehalfOf | None = None
    acted_by: str | None = None


class ClaimAttendance(NeedEvent):
    """A volunteer checked in (arrival) or out (departure) with the need's rotating code."""

    type: ClassVar[str] = "org.tongxin.claim.attendance"
    claim_id: str
    volunteer_id: str
    step: Literal["check_in", "check_out"]
    at: datetime


class HoursVerified(NeedEvent):
    """The hours and figures of a completion as verified; a later revision replaces the
    earlier one (a correction): consumers apply the difference."""

    type: ClassVar[str] = "org.tongxin.hours.verified"
    completion_id: str
    revision: int
    hours: list[VolunteerHours]
    beneficiaries_served: int
    goods_count: int
    funds_cents: int
    via: VerifiedVia
    auto: bool = False
    reason: str | None = None
    verified_by: str
    verified_at: datetime
    completed_at: datetime
    requester_id: str
    title: str | None = None
    # Set when a grid worker verified for the resident (acted_by: the worker).
    on_behalf_of: OnBehalfOf | None = None
    acted_by: str | None = None


class HoursDisputed(NeedEvent):
    """The resident or an admin says a completion's hours or figures are wrong; an admin
    resolves it with a reason (a new `hours.verified` revision)."""

    type: ClassVar[str] = "org.tongxin.hours.disputed"
    completion_id: str
    reason: str
    was_verified: bool
    disputed_by: str
    disputed_at: datetime
    requester_id: str
    volunteer_ids: list[str] = []
    title: str | None = None


class ReminderDue(NeedEvent):
    """A reminder for people to act: claimers before a claim's due date (`claim_due`), the
    resident after completion until they confirm (`confirm_service`)."""

    type: ClassVar[str] = "org.tongxin.reminder.due"
    reason: Literal["claim_due", "confirm_service"]
    reminder_id: str
    recipient_ids: list[str]
    claim_id: str | None = None
    completion_id: str | None = None
    due_at: datetime | None = None
    title: str | None = None
    requester_id: str
    sent_at: datetime


NEEDS_EVENTS: list[type[EventPayload]] = [
    NeedPosted,
    NeedApproved,
    NeedRejected,
    NeedCancelled,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
    TaskConfirmed,
    HoursVerified,
    HoursDisputed,
    ReminderDue,
    ClaimAttendance,
]
