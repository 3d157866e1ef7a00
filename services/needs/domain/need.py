"""The need aggregate: its state and the rules of its lifecycle. No I/O.

Every command is a function of the current state that returns the new state and the
events it causes, or raises DomainError. The caller stores both in one commit.

Long because it is one aggregate with a lifecycle of nine commands whose rules depend on each
other (slots, claims, expiry, completion): they are read and tested together.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import DomainError
from shared.events.envelope import EventPayload
from shared.events.needs import (
    ClaimantType,
    Kind,
    Location,
    NeedApproved,
    NeedCancelled,
    NeedPosted,
    NeedRejected,
    OnBehalfOf,
    Openness,
    VerifiedVia,
    VolunteerHours,
)
from shared.inputs import Name, Phone
from shared.visibility import coarse_location, public_behalf

NeedStatus = Literal[
    "pending_review", "open", "claimed", "completed", "confirmed", "rejected", "cancelled"
]
ClaimStatus = Literal["active", "released", "completed"]
ReleaseReason = Literal["released", "expired", "cancelled"]
# declared → verified, or → review (implausible) / disputed → verified by an admin.
CompletionHours = Literal["declared", "review", "disputed", "verified"]

# The statuses a command may start from (docs/contract.md); everything else is 409.
ALLOWED_FROM: dict[str, tuple[NeedStatus, ...]] = {
    "approve": ("pending_review",),
    "reject": ("pending_review",),
    "cancel": ("pending_review", "open"),
    "claim": ("open",),
    "release": ("open", "claimed"),
    # An open need with active claims completes with the claimers who came.
    "complete": ("open", "claimed"),
    "confirm": ("completed",),
}
MAX_HOURS_PER_COMPLETION = 24.0
# Claimers hear of a claim's due date this long before it; the resident is reminded to
# confirm this often after completion (reminders.py).
CLAIM_REMINDER_BEFORE = timedelta(hours=24)
CONFIRM_REMINDER_EVERY = timedelta(days=1)
SYSTEM = "system"


def ms(moment: datetime) -> datetime:
    """Times are kept to the millisecond: what MongoDB stores is what the API answered."""
    return moment.astimezone(UTC).replace(microsecond=moment.microsecond // 1000 * 1000)


class Requester(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name = Field(max_length=60)
    phone: Phone


class Attendance(BaseModel):
    """A volunteer's check-in and check-out on a claim (attendance.py)."""

    check_in_at: datetime | None = None
    check_out_at: datetime | None = None

    def interval_hours(self) -> float | None:
        if self.check_in_at is None or self.check_out_at is None:
            return None
        return (self.check_out_at - self.check_in_at).total_seconds() / 3600


class Claim(BaseModel):
    id: str
    claimant_type: ClaimantType
    volunteer_ids: list[str] = []
    team_id: str | None = None
    organization_id: str | None = None
    slots: int
    status: ClaimStatus = "active"
    claimed_by: str
    created_at: datetime
    expires_at: datetime | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: ReleaseReason | None = None
    completed_at: datetime | None = None
    attendance: dict[str, Attendance] = {}  # by volunteer id
    reminded_at: datetime | None = None  # of the due date


class Review(BaseModel):
    decision: Literal["approved", "rejected"]
    by: str
    at: datetime
    reason: str | None = None


class Cancellation(BaseModel):
    by: str
    at: datetime
    reason: str | None = None
    previous_status: NeedStatus


class Completion(BaseModel):
    id: str
    hours: list[VolunteerHours]
    beneficiaries_served: int
    goods_count: int
    funds_cents: int
    note: str | None = None
    evidence_urls: list[str] = []
    completed_by: str
    completed_at: datetime
    # Stored completions from before verification existed were final: "verified".
    hours_status: CompletionHours = "verified"
    review_reasons: list[str] = []
    revision: int = 0  # of the newest `hours.verified`
    verified_by: str | None = None
    verified_at: datetime | None = None
    verified_via: VerifiedVia | None = None
    dispute_reason: str | None = None
    auto_confirm_at: datetime | None = None
    slots_unfilled: int = 0
    next_reminder_at: datetime | None = None  # to confirm, while the resident has not
    reminders_sent: int = 0


class Confirmation(BaseModel):
    rating: int
    comment: str | None = None
    confirmed_by: str
    confirmed_at: datetime


class Need(BaseModel):
    """The stored state of one need."""

    id: str
    community_id: str
    title: str
    description: str = ""
    category: str
    kind: Kind
    slots: int
    requester: Requester
    requester_id: str
    beneficiaries: int = 0
    location: Location | None = None
    skills: list[str] = []
    due_at: datetime | None = None
    openness: Openness = "community"
    status: NeedStatus
    posted_by: str
    # Posted by a grid worker for this resident (the requester_id is the worker's).
    on_behalf_of: OnBehalfOf | None = None
    request_hash: str | None = None
    created_at: datetime
    updated_at: datetime
    claims: list[Claim] = []
    review: Review | None = None
    cancellation: Cancellation | None = None
    completion: Completion | None = None
    confirmation: Confirmation | None = None
    # Derived from the claims on every change, kept for queries on the head documents.
    slots_taken: int = 0
    participants: list[str] = []
    next_claim_expiry: datetime | None = None
    next_auto_confirm: datetime | None = None
    next_reminder: datetime | None = None
    open_to: str = ""  # the org path whose volunteers may claim (from `openness`)
    active_volunteer_ids: list[str] = []
    active_organization_ids: list[str] = []
    has_expired_claims: bool = False

    def active_claims(self) -> list[Claim]:
        return [c for c in self.claims if c.status == "active"]

    def find_claim(self, claim_id: str) -> Claim | None:
        return next((c for c in self.claims if c.id == claim_id), None)

    def active_volunteers(self) -> set[str]:
        return {v for c in self.active_claims() for v in c.volunteer_ids}


Change = tuple[Need, list[EventPayload]]


def _require(need: Need, action: str) -> None:
    allowed = ALLOWED_FROM[action]
    if need.status not in allowed:
        raise DomainError(
            "conflict",
            f"当前状态为 {need.status}，不能{_ZH[action]} / "
            f"cannot {action} a need that is {need.status}",
            status=need.status,
            allowed_from=list(allowed),
        )


_ZH = {
    "approve": "审核通过",
    "reject": "驳回",
    "cancel": "取消",
    "claim": "认领",
    "release": "释放认领",
    "complete": "登记完成",
    "confirm": "确认",
}


OPENNESS_DEPTH: dict[Openness, int] = {"community": 3, "street": 2, "district": 1}


def open_to(community_id: str, openness: Openness) -> str:
    """The org path whose volunteers may claim: the need's own community (or grid's
    community), or its street, or its district."""
    return ".".join(community_id.split(".")[: OPENNESS_DEPTH[openness]])


def derived(need: Need, **changes: object) -> Need:
    """The need with `changes` applied and its claim-derived fields recomputed."""
    updated = need.model_copy(update=changes)
    active = updated.active_claims()
    participants: list[str] = []
    for claim in updated.claims:
        for who in (*claim.volunteer_ids, claim.claimed_by):
            if who not in participants:
                participants.append(who)
    expiries = [c.expires_at for c in active if c.expires_at is not None]
    done = updated.completion
    waiting = done is not None and done.hours_status == "declared"
    reminders = [
        c.expires_at - CLAIM_REMINDER_BEFORE
        for c in active
        if c.expires_at is not None and c.reminded_at is None
    ]
    if updated.status == "completed" and done is not None and done.next_reminder_at:
        reminders.append(done.next_reminder_at)
    return updated.model_copy(
        update={
            "next_reminder": min(reminders) if reminders else None,
            "open_to": open_to(updated.community_id, updated.openness),
            "active_volunteer_ids": sorted({v for c in active for v in c.volunteer_ids}),
            "active_organization_ids": sorted(
                {c.organization_id for c in active if c.organization_id}
            ),
            "has_expired_claims": any(c.release_reason == "expired" for c in updated.claims),
            "slots_taken": sum(c.slots for c in active),
            "participants": participants,
            "next_claim_expiry": min(expiries) if expiries else None,
            "next_auto_confirm": done.auto_confirm_at if done is not None and waiting else None,
        }
    )


def post_need(need: Need, now: datetime) -> Change:
    """A new need waits for the committee's review."""
    if need.due_at is not None and need.due_at <= now:
        raise DomainError(
            "invalid", "截止时间须在将来 / due_at must be in the future", field="due_at"
        )
    posted = derived(need, status="pending_review", claims=[])
    event = NeedPosted(
        need_id=posted.id,
        community_id=posted.community_id,
        category=posted.category,
        kind=posted.kind,
        title=posted.title,
        slots=posted.slots,
        beneficiaries=posted.beneficiaries,
        skills=posted.skills,
        # The public stream's view (shared.visibility): the place rounded, the resident masked.
        location=coarse_location(posted.location),
        due_at=posted.due_at,
        requester_id=posted.requester_id,
        posted_by=posted.posted_by,
        status=posted.status,
        posted_at=posted.created_at,
        on_behalf_of=public_behalf(posted.on_behalf_of),
        acted_by=posted.posted_by if posted.on_behalf_of else None,
    )
    return posted, [event]


def approve(need: Need, by: str, now: datetime) -> Change:
    _require(need, "approve")
    approved = derived(
        need,
        status="open",
        review=Review(decision="approved", by=by, at=now),
        updated_at=now,
    )
    return approved, [
        NeedApproved(
            **need_ids(need),
            title=need.title,
            slots=need.slots,
            skills=need.skills,
            location=coarse_location(need.location),
            due_at=need.due_at,
            requester_id=need.requester_id,
            approved_by=by,
            posted_at=need.created_at,
            approved_at=now,
        )
    ]


def reject(need: Need, by: str, reason: str, now: datetime) -> Change:
    _require(need, "reject")
    rejected = derived(
        need,
        status="rejected",
        review=Review(decision="rejected", by=by, at=now, reason=reason),
        updated_at=now,
    )
    return rejected, [
        NeedRejected(
            **need_ids(need),
            reason=reason,
            requester_id=need.requester_id,
            rejected_by=by,
            rejected_at=now,
            title=need.title,
        )
    ]


def cancel(need: Need, by: str, reason: str | None, now: datetime) -> Change:
    """Cancelling an open need ends its active claims with it."""
    _require(need, "cancel")
    ended = [c for c in need.claims if c.status == "active"]
    claims = [
        c.model_copy(
            update={
                "status": "released",
                "released_at": now,
                "released_by": by,
                "release_reason": "cancelled",
            }
        )
        if c.status == "active"
        else c
        for c in need.claims
    ]
    cancelled = derived(
        need,
        status="cancelled",
        claims=claims,
        cancellation=Cancellation(by=by, at=now, reason=reason, previous_status=need.status),
        updated_at=now,
    )
    return cancelled, [
        NeedCancelled(
            **need_ids(need),
            previous_status=need.status,
            requester_id=need.requester_id,
            cancelled_by=by,
            reason=reason,
            cancelled_at=now,
            title=need.title,
            released_claim_ids=[c.id for c in ended],
            volunteer_ids=sorted({v for c in ended for v in c.volunteer_ids}),
        )
    ]


def need_ids(need: Need) -> dict[str, str]:
    return {
        "need_id": need.id,
        "community_id": need.community_id,
        "category": need.category,
        "kind": need.kind,
    }


def _claimants(claims: Sequence[Claim]) -> dict[str, list[str]]:
    return {
        "volunteer_ids": sorted({v for c in claims for v in c.volunteer_ids}),
        "team_ids": sorted({c.team_id for c in claims if c.team_id}),
        "organization_ids": sorted({c.organization_id for c in claims if c.organization_id}),
    }
