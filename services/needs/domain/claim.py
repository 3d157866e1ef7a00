"""Claims of a need's slots: taking, releasing, expiring. No I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from services.needs.domain.need import (
    ALLOWED_FROM,
    SYSTEM,
    Change,
    Claim,
    Need,
    ReleaseReason,
    _require,
    derived,
    need_ids,
)
from shared.errors import DomainError
from shared.events.envelope import EventPayload
from shared.events.needs import ClaimantType, ProjectClaimed, ProjectClaimReleased


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
