"""The need aggregate: its state and the rules of its lifecycle. No I/O.

Every command is a function of the current state that returns the new state and the
events it causes, or raises DomainError. The caller stores both in one commit.

Long because it is one aggregate with a lifecycle of nine commands whose rules depend on each
other (slots, claims, expiry, completion): they are read and tested together.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.errors import DomainError
from shared.events.envelope import EventPayload
from shared.events.needs import (
    ClaimantType,
    HoursVerified,
    Kind,
    Location,
    NeedApproved,
    NeedCancelled,
    NeedPosted,
    NeedRejected,
    OnBehalfOf,
    Openness,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
    TaskConfirmed,
    VerifiedVia,
    VolunteerHours,
)
from shared.inputs import Name, Phone

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


@dataclass(frozen=True)
class ClaimRequest:
    """Who claims how many slots; built by the eligibility rules from what is known."""

    claim_id: str
    claimant_type: ClaimantType
    claimed_by: str
    slots: int
    volunteer_ids: tuple[str, ...] = ()
    team_id: str | None = None
    organization_id: str | None = None


@dataclass(frozen=True)
class CompletionRecord:
    completion_id: str
    hours: tuple[VolunteerHours, ...]
    beneficiaries_served: int = 0
    goods_count: int = 0
    funds_cents: int = 0
    note: str | None = None
    evidence_urls: tuple[str, ...] = ()
    # Set by the handler from the district's rules and the plausibility rules.
    review_reasons: tuple[str, ...] = ()
    auto_confirm_days: int = 7


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
        location=posted.location,
        due_at=posted.due_at,
        requester_id=posted.requester_id,
        posted_by=posted.posted_by,
        status=posted.status,
        posted_at=posted.created_at,
        on_behalf_of=posted.on_behalf_of,
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
            location=need.location,
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


def claim_slots(need: Need, request: ClaimRequest, now: datetime, expiry_days: int) -> Change:
    """Takes slots of an open need; the need is `claimed` when every slot is taken."""
    _require(need, "claim")
    if need.due_at is not None and need.due_at <= now:
        raise DomainError(
            "conflict", "需求已过截止时间 / the need is past its due date", status=need.status
        )
    if request.slots < 1:
        raise DomainError("invalid", "至少认领一个名额 / claim at least one slot", field="slots")
    if len(set(request.volunteer_ids)) != len(request.volunteer_ids):
        raise DomainError("invalid", "志愿者重复 / a volunteer is listed twice", field="member_ids")
    busy = sorted(need.active_volunteers() & set(request.volunteer_ids))
    if busy:
        raise DomainError(
            "conflict",
            "志愿者已认领此需求 / volunteer already holds an active claim on this need",
            volunteer_ids=busy,
        )
    for claim in need.active_claims():
        if request.team_id is not None and claim.team_id == request.team_id:
            raise DomainError("conflict", "该服务队已认领此需求 / team already claimed this need")
        if request.organization_id is not None and claim.organization_id == request.organization_id:
            raise DomainError(
                "conflict", "该组织已认领此需求 / organisation already claimed this need"
            )
    free = need.slots - need.slots_taken
    if request.slots > free:
        raise DomainError(
            "conflict",
            f"名额不足，仅剩 {free} 个 / only {free} slot(s) left",
            status=need.status,
            slots_free=free,
        )
    claim = Claim(
        id=request.claim_id,
        claimant_type=request.claimant_type,
        volunteer_ids=list(request.volunteer_ids),
        team_id=request.team_id,
        organization_id=request.organization_id,
        slots=request.slots,
        claimed_by=request.claimed_by,
        created_at=now,
        expires_at=need.due_at or now + timedelta(days=expiry_days),
    )
    taken = need.slots_taken + request.slots
    claimed = derived(
        need,
        claims=[*need.claims, claim],
        status="claimed" if taken == need.slots else "open",
        updated_at=now,
    )
    return claimed, [
        ProjectClaimed(
            **_claim_fields(claimed, claim),
            claimed_by=request.claimed_by,
            posted_at=need.created_at,
            claimed_at=now,
            expires_at=claim.expires_at,
        )
    ]


def release_claim(
    need: Need, claim_id: str, by: str, now: datetime, reason: ReleaseReason = "released"
) -> Change:
    """Ends an active claim; its slots reopen (a `claimed` need is `open` again)."""
    claim = need.find_claim(claim_id)
    if claim is None:
        raise DomainError(
            "not_found", f"认领 {claim_id} 不存在 / claim {claim_id} not found", id=claim_id
        )
    if claim.status != "active":
        raise DomainError(
            "conflict",
            f"认领已是 {claim.status} 状态 / claim is already {claim.status}",
            claim_status=claim.status,
            status=need.status,
        )
    _require(need, "release")
    return _release(need, [claim.id], by, now, "expired" if reason == "expired" else "released")


def expire_claims(need: Need, now: datetime) -> Change:
    """Releases every active claim whose deadline has passed (none: no change, no event)."""
    if need.status not in ALLOWED_FROM["release"]:
        return need, []
    due = [c.id for c in need.active_claims() if c.expires_at is not None and c.expires_at <= now]
    if not due:
        return need, []
    return _release(need, due, SYSTEM, now, "expired")


def _release(
    need: Need,
    claim_ids: Sequence[str],
    by: str,
    now: datetime,
    reason: Literal["released", "expired"],
) -> Change:
    claims = [
        c.model_copy(
            update={
                "status": "released",
                "released_at": now,
                "released_by": by,
                "release_reason": reason,
            }
        )
        if c.id in claim_ids
        else c
        for c in need.claims
    ]
    released = derived(need, claims=claims, status="open", updated_at=now)
    events: list[EventPayload] = []
    for claim in claims:
        if claim.id in claim_ids:
            events.append(
                ProjectClaimReleased(
                    **_claim_fields(released, claim),
                    reason=reason,
                    released_by=by,
                    released_at=now,
                )
            )
    return released, events


def complete(need: Need, record: CompletionRecord, by: str, now: datetime) -> Change:
    """The claimers' record of what was done; every active claim is completed. Slots nobody
    took close as `slots_unfilled`. The hours are declared, not yet verified: they wait for
    the resident (or go to review when `record.review_reasons` flags them)."""
    _require(need, "complete")
    if not need.active_claims():
        raise DomainError(
            "conflict",
            "没有有效认领，不能登记完成 / no active claim to complete",
            status=need.status,
        )
    allowed = need.active_volunteers()
    seen: set[str] = set()
    for i, entry in enumerate(record.hours):
        field = f"hours.{i}"
        if entry.volunteer_id in seen:
            raise DomainError("invalid", "志愿者重复 / volunteer listed twice", field=field)
        seen.add(entry.volunteer_id)
        if entry.volunteer_id not in allowed:
            raise DomainError(
                "invalid",
                "只能为本需求有效认领的志愿者登记时长 / "
                "hours only for volunteers of this need's active claims",
                field=f"{field}.volunteer_id",
                volunteer_id=entry.volunteer_id,
            )
        if not 0 < entry.hours <= MAX_HOURS_PER_COMPLETION:
            raise DomainError(
                "invalid", "时长须在 0–24 小时 / hours must be 0 < h ≤ 24", field=field
            )
    active = need.active_claims()
    review = bool(record.review_reasons)
    completion = Completion(
        id=record.completion_id,
        hours=list(record.hours),
        beneficiaries_served=record.beneficiaries_served,
        goods_count=record.goods_count,
        funds_cents=record.funds_cents,
        note=record.note,
        evidence_urls=list(record.evidence_urls),
        completed_by=by,
        completed_at=now,
        hours_status="review" if review else "declared",
        review_reasons=list(record.review_reasons),
        auto_confirm_at=None if review else now + timedelta(days=record.auto_confirm_days),
        slots_unfilled=need.slots - need.slots_taken,
        next_reminder_at=now + CONFIRM_REMINDER_EVERY,
    )
    claims = [
        c.model_copy(update={"status": "completed", "completed_at": now})
        if c.status == "active"
        else c
        for c in need.claims
    ]
    completed = derived(
        need, claims=claims, status="completed", completion=completion, updated_at=now
    )
    return completed, [
        TaskCompleted(
            **need_ids(need),
            completion_id=completion.id,
            claim_ids=[c.id for c in active],
            **_claimants(active),
            hours=completion.hours,
            beneficiaries_served=completion.beneficiaries_served,
            goods_count=completion.goods_count,
            funds_cents=completion.funds_cents,
            note=completion.note,
            evidence_urls=completion.evidence_urls,
            requester_id=need.requester_id,
            completed_by=by,
            posted_at=need.created_at,
            due_at=need.due_at,
            completed_at=now,
            title=need.title,
            hours_status=completion.hours_status,
            review_reasons=completion.review_reasons,
            slots_unfilled=completion.slots_unfilled,
        )
    ]


def confirm(
    need: Need,
    rating: int,
    comment: str | None,
    by: str,
    now: datetime,
    via: VerifiedVia = "resident",
) -> Change:
    """The resident's rating; it verifies declared hours (not hours under review or in
    dispute: those wait for an admin)."""
    _require(need, "confirm")
    if not 1 <= rating <= 5:
        raise DomainError("invalid", "评分须为 1–5 / rating must be 1–5", field="rating")
    assert need.completion is not None  # every completed need has its record
    confirmation = Confirmation(rating=rating, comment=comment, confirmed_by=by, confirmed_at=now)
    done = [c for c in need.claims if c.status == "completed"]
    confirmed = derived(need, status="confirmed", confirmation=confirmation, updated_at=now)
    # The grid worker who posted for a resident confirms for them too.
    behalf = need.on_behalf_of if by == need.requester_id else None
    events: list[EventPayload] = []
    if need.completion.hours_status == "declared":
        confirmed, events = verify_hours(confirmed, by, via, now)
    return confirmed, [
        TaskConfirmed(
            **need_ids(need),
            completion_id=need.completion.id,
            rating=rating,
            comment=comment,
            **_claimants(done),
            confirmed_by=by,
            confirmed_at=now,
            title=need.title,
            requester_id=need.requester_id,
            on_behalf_of=behalf,
            acted_by=by if behalf else None,
        ),
        *events,
    ]


def verify_hours(
    need: Need,
    by: str,
    via: VerifiedVia,
    now: datetime,
    *,
    corrected: Completion | None = None,
    reason: str | None = None,
) -> Change:
    """The completion's hours and figures (or `corrected` ones) become the verified record,
    as the next revision; the rules of who may do it from which state are in
    `verification.py`."""
    assert need.completion is not None
    done = (corrected or need.completion).model_copy(
        update={
            "hours_status": "verified",
            "revision": need.completion.revision + 1,
            "verified_by": by,
            "verified_at": now,
            "verified_via": via,
            "dispute_reason": None,
            # confirmed automatically: nobody is reminded any more
            **({"next_reminder_at": None} if via == "auto" else {}),
        }
    )
    verified = derived(need, completion=done, updated_at=now)
    return verified, [
        HoursVerified(
            **need_ids(need),
            completion_id=done.id,
            revision=done.revision,
            hours=done.hours,
            beneficiaries_served=done.beneficiaries_served,
            goods_count=done.goods_count,
            funds_cents=done.funds_cents,
            via=via,
            auto=via == "auto",
            reason=reason,
            verified_by=by,
            verified_at=now,
            completed_at=done.completed_at,
            requester_id=need.requester_id,
            title=need.title,
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


def _claim_fields(need: Need, claim: Claim) -> dict[str, object]:
    return {
        **need_ids(need),
        "claim_id": claim.id,
        "claimant_type": claim.claimant_type,
        "volunteer_ids": claim.volunteer_ids,
        "team_id": claim.team_id,
        "organization_id": claim.organization_id,
        "slots": claim.slots,
        "slots_total": need.slots,
        "slots_taken": need.slots_taken,
        "need_status": need.status,
        "requester_id": need.requester_id,
        "title": need.title,
    }
