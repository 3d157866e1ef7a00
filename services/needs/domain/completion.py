"""Completing a need and confirming it: declared hours, their verification. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.needs.domain.need import (
    CONFIRM_REMINDER_EVERY,
    MAX_HOURS_PER_COMPLETION,
    Change,
    Claim,
    Completion,
    Confirmation,
    Need,
    _claimants,
    _require,
    derived,
    need_ids,
)
from shared.errors import DomainError
from shared.events.envelope import EventPayload
from shared.events.needs import (
    HoursVerified,
    OnBehalfOf,
    TaskCompleted,
    TaskConfirmed,
    VerifiedVia,
    VolunteerHours,
)
from shared.privacy import mask_phone
from shared.visibility import public_behalf


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


def complete(need: Need, record: CompletionRecord, by: str, now: datetime) -> Change:
    """The claimers' record of what was done; every active claim is completed. Slots nobody
    took, or whose claimers did not come (no hours), close as `slots_unfilled`. The hours
    are declared, not yet verified: they wait for the resident (or go to review when
    `record.review_reasons` flags them)."""
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
        slots_unfilled=need.slots - _slots_filled(active, seen),
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


def _slots_filled(claims: Sequence[Claim], came: set[str]) -> int:
    """Slots of the claims whose people came: one per volunteer with hours; an
    organisation's claim fills the slots it took (its people are not listed)."""
    return sum(
        c.slots if c.claimant_type == "organization" else len(came & set(c.volunteer_ids))
        for c in claims
    )


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
            on_behalf_of=public_behalf(behalf),
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
    behalf = resident_of(need) if via == "grid_worker" else None
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
            on_behalf_of=public_behalf(behalf),
            acted_by=by if behalf else None,
        )
    ]


def resident_of(need: Need) -> OnBehalfOf:
    """The resident a grid worker acts for: the one they posted for, or the requester (their
    name and masked phone)."""
    if need.on_behalf_of is not None:
        return need.on_behalf_of
    return OnBehalfOf(name=need.requester.name, phone=mask_phone(need.requester.phone))
