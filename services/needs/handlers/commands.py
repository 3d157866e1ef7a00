"""Commands of the needs service → domain rules → repository.

Every change goes through `_change`, on the shared unit of work: load the need, authorize,
apply the rule, commit the new version with its events. When another writer committed that
version first, the rule runs again on the newer state (bounded, with jittered backoff): the
store's unique insert, not a conditional update, decides races such as two volunteers and
one slot.

Long because it holds every command of the need's lifecycle (reads: queries.py; events:
events.py).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from services.needs.adapters.claim_slots import STALE_SLOT_AFTER, ClaimSlots
from services.needs.adapters.photos import PhotoStore
from services.needs.adapters.read_model import Directory
from services.needs.adapters.repository import NeedsRepository
from services.needs.domain import attendance, completion, eligibility, reminders, verification
from services.needs.domain import claim as claim_domain
from services.needs.domain import need as need_domain
from services.needs.domain.completion import CompletionRecord
from services.needs.domain.need import Change, Claim, Need
from services.needs.domain.policy import (
    GRID_WORKER_ROLES,
    Action,
    Facts,
    authorize,
    authorize_post,
    is_grid_worker,
)
from services.needs.metrics import (
    CLAIMS_CAPPED,
    CLAIMS_EXPIRED,
    COMMIT_CONFLICTS,
    IDEMPOTENT_REPLAYS,
    TRANSITIONS,
)
from services.needs.schemas import (
    CancelNeed,
    CheckIn,
    ClaimNeed,
    CompleteNeed,
    ConfirmNeed,
    DisputeCompletion,
    PostNeed,
    RejectNeed,
    VerifyCompletion,
)
from services.needs.settings import NeedsSettings
from shared.auth import Principal
from shared.categories import known_categories
from shared.clock import Clock, SystemClock
from shared.errors import DomainError
from shared.events.needs import OnBehalfOf, VerifiedVia, VolunteerHours
from shared.logging import get_logger, log_context
from shared.mongo.unit_of_work import Audit, Duplicate, GaveUp
from shared.privacy import mask_phone

log = get_logger(__name__)

EXPIRY_REASON = "逾期未完成 / not completed in time"
AUTO_CONFIRM_REASON = "逾期未确认，自动确认 / not confirmed in time: confirmed automatically"
# Need ids of idempotent posts: uuid5(caller, key), so the first commit's insert arbitrates.
IDEMPOTENCY_NAMESPACE = uuid.UUID("5f0c7a52-3c1e-4f7e-9a43-6d2b1c0e8a11")


def need_not_found(need_id: str) -> DomainError:
    return DomainError("not_found", f"需求 {need_id} 不存在 / need not found", id=need_id)


@dataclass
class NeedsDeps:
    repo: NeedsRepository
    directory: Directory
    settings: NeedsSettings
    slots: ClaimSlots  # the caps on active claims
    photos: PhotoStore  # wish photos, re-encoded, beside the need
    clock: Clock = field(default_factory=SystemClock)

    def now(self) -> datetime:
        return need_domain.ms(self.clock.now())


@dataclass(frozen=True)
class Actor:
    """Who causes a change, as the audit trail records it."""

    sub: str
    role: str

    @classmethod
    def of(cls, p: Principal) -> Actor:
        return cls(p.sub, p.role)


SYSTEM = Actor(need_domain.SYSTEM, "system")

Decide = Callable[[Need, datetime], Change]


async def _change(
    deps: NeedsDeps,
    need_id: str,
    action: str,
    actor: Actor,
    decide: Decide,
    correlation_id: str | None,
    reason: str | None = None,
) -> tuple[Need, int]:
    """Applies `decide` to the newest version of the need and commits the result."""

    def decided(need: Need | None, now: datetime) -> Change:
        if need is None:
            raise need_not_found(need_id)
        return decide(need, now)

    with log_context(need_id=need_id):
        try:
            done = await deps.repo.needs.change(
                need_id,
                decided,
                audit=Audit(actor.sub, actor.role, action, reason),
                correlation_id=correlation_id,
                on_conflict=COMMIT_CONFLICTS.labels(action).inc,
            )
        except GaveUp:
            log.warning("need_commit_gave_up", need_id=need_id, action=action)
            raise DomainError(
                "busy", "需求正忙，请稍后重试 / the need is busy, please retry"
            ) from None
        if done.changed:
            TRANSITIONS.labels(action).inc()
            log.info(
                "need_changed",
                action=action,
                actor=actor.sub,
                status=done.state.status,
                version=done.version,
                attempts=done.attempts,
            )
        return done.state, done.version


# posting -------------------------------------------------------------------------------


def _body_hash(cmd: PostNeed) -> str:
    canonical = json.dumps(cmd.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _step(
    deps: NeedsDeps,
    p: Principal,
    need_id: str,
    action: Action,
    verb: str,
    step: Callable[[Need, str, datetime], Change],
    correlation_id: str | None,
    reason: str | None = None,
) -> tuple[Need, int]:
    """A principal's step on a need: allowed by `action`, decided by `step(need, by, now)`."""

    def decide(need: Need, now: datetime) -> Change:
        authorize(p, need, action)
        return step(need, p.sub, now)

    return await _change(deps, need_id, verb, Actor.of(p), decide, correlation_id, reason)


async def post_need(
    deps: NeedsDeps,
    p: Principal,
    cmd: PostNeed,
    idempotency_key: str | None,
    correlation_id: str | None,
) -> tuple[Need, int, bool]:
    """Posts a need; returns it, its version, and whether this answers an earlier request."""
    authorize_post(p, cmd.community_id, cmd.requester_id)
    categories = known_categories(deps.settings.extra_categories)
    if cmd.category not in categories:
        raise DomainError(
            "invalid",
            f"未知类别 / unknown category {cmd.category!r}",
            field="category",
            allowed=sorted(categories),
        )
    unit = await deps.directory.org_unit(cmd.community_id)
    eligibility.require_community(unit, cmd.community_id)
    body_hash = _body_hash(cmd)
    # With a key the id is derived from it, and the version-1 insert below decides: a repeat
    # meets a taken version and is answered from the first commit (no lookup up front).
    if idempotency_key is None:
        need_id = str(uuid.uuid4())
    else:
        need_id = str(uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{p.sub}\x1f{idempotency_key}"))
    now = deps.now()
    need = Need(
        id=need_id,
        community_id=cmd.community_id,
        title=cmd.title,
        description=cmd.description,
        category=cmd.category,
        kind=cmd.kind,
        slots=cmd.slots,
        requester=cmd.requester,
        requester_id=cmd.requester_id or p.sub,
        beneficiaries=cmd.beneficiaries,
        location=cmd.location.to_location() if cmd.location else None,
        skills=cmd.skills,
        due_at=cmd.due_at,
        openness=cmd.openness,
        status="pending_review",
        posted_by=p.sub,
        on_behalf_of=(
            OnBehalfOf(name=cmd.requester.name, phone=mask_phone(cmd.requester.phone))
            if p.role == "grid_worker"
            else None
        ),
        request_hash=body_hash,
        created_at=now,
        updated_at=now,
    )
    posted, events = need_domain.post_need(need, now)
    audit = Audit(p.sub, p.role, "post")
    try:
        version = await deps.repo.needs.create(need_id, posted, events, correlation_id, audit, now)
    except Duplicate:
        # The same key raced with itself: the first insert won; answer as it did.
        earlier = await deps.repo.needs.first(need_id)
        if earlier is None:
            raise
        return _replay(earlier, body_hash)
    TRANSITIONS.labels("post").inc()
    return posted, version, False


def _replay(earlier: Need, body_hash: str) -> tuple[Need, int, bool]:
    if earlier.request_hash != body_hash:
        raise DomainError(
            "conflict",
            "该 Idempotency-Key 已用于另一内容的请求 / "
            "Idempotency-Key already used with a different body",
            need_id=earlier.id,
        )
    IDEMPOTENT_REPLAYS.inc()
    return earlier, 1, True


# review and cancellation ---------------------------------------------------------------


async def approve_need(
    deps: NeedsDeps, p: Principal, need_id: str, correlation_id: str | None
) -> tuple[Need, int]:
    return await _step(
        deps, p, need_id, Action.REVIEW, "approve", need_domain.approve, correlation_id
    )


async def reject_need(
    deps: NeedsDeps, p: Principal, need_id: str, cmd: RejectNeed, correlation_id: str | None
) -> tuple[Need, int]:
    def reject(need: Need, by: str, now: datetime) -> Change:
        return need_domain.reject(need, by, cmd.reason, now)

    return await _step(
        deps, p, need_id, Action.REVIEW, "reject", reject, correlation_id, cmd.reason
    )


async def cancel_need(
    deps: NeedsDeps, p: Principal, need_id: str, cmd: CancelNeed, correlation_id: str | None
) -> tuple[Need, int]:
    def cancel(need: Need, by: str, now: datetime) -> Change:
        return need_domain.cancel(need, by, cmd.reason, now)

    cancelled = await _step(
        deps, p, need_id, Action.CANCEL, "cancel", cancel, correlation_id, cmd.reason
    )
    await _free_slots(deps, cancelled[0])
    return cancelled


# claims --------------------------------------------------------------------------------


async def claim_need(
    deps: NeedsDeps, p: Principal, need_id: str, cmd: ClaimNeed, correlation_id: str | None
) -> tuple[Need, int, Claim]:
    claim_id = str(uuid.uuid4())
    directory = deps.directory
    # Facts about the claimant, read once: they do not depend on the need's version.
    volunteer = await directory.volunteer(cmd.volunteer_id) if cmd.volunteer_id else None
    team = await directory.team(cmd.team_id, cmd.member_ids or []) if cmd.team_id else None
    members = list(await asyncio.gather(*(directory.volunteer(m) for m in cmd.member_ids or [])))
    organization = (
        await directory.organization(cmd.organization_id) if cmd.organization_id else None
    )

    def decide(need: Need, now: datetime) -> Change:
        if cmd.volunteer_id is not None:
            authorize(p, need, Action.CLAIM_AS_VOLUNTEER, Facts(volunteer_id=cmd.volunteer_id))
            request = eligibility.volunteer_claim(
                need, cmd.volunteer_id, volunteer, claim_id, p.sub
            )
        elif cmd.team_id is not None:
            authorize(p, need, Action.READ)
            known = eligibility.known_team(cmd.team_id, team)
            leaders = {known.id: known.leader_id} if known.leader_id else {}
            authorize(p, need, Action.CLAIM_FOR_TEAM, Facts(team_leaders=leaders))
            request = eligibility.team_claim(
                need, known, cmd.member_ids or [], members, claim_id, p.sub
            )
        else:
            assert cmd.organization_id is not None
            authorize(p, need, Action.CLAIM_FOR_ORGANIZATION)
            request = eligibility.organization_claim(
                need, cmd.organization_id, organization, cmd.slots or 1, claim_id, p.sub
            )
        return claim_domain.claim_slots(need, request, now, deps.settings.claim_expiry_days)

    loaded, _ = await deps.repo.get(need_id)
    if loaded is None:
        raise need_not_found(need_id)
    # Every refusal but the caps comes before a slot is taken (nobody's slot is held for a
    # claim that cannot be made); the commit below decides again on the newest version.
    decide(loaded, deps.now())
    holders = eligibility.slot_holders(
        [cmd.volunteer_id] if cmd.volunteer_id else cmd.member_ids or [], cmd.organization_id
    )
    slot_ids = await _take_slots(deps, holders, loaded.community_id, need_id, claim_id)
    try:
        need, version = await _change(deps, need_id, "claim", Actor.of(p), decide, correlation_id)
    except DomainError:  # refused or given up (busy): nothing was committed
        await deps.slots.release(claim_id, slot_ids)
        raise
    claim = need.find_claim(claim_id)
    assert claim is not None
    return need, version, claim


async def _take_slots(
    deps: NeedsDeps,
    holders: list[eligibility.SlotHolder],
    community_id: str,
    need_id: str,
    claim_id: str,
) -> list[str]:
    """One cap slot for each holder of the claim (claim_slots.py), or 409 and none."""
    rules = await deps.directory.rules(community_id)
    taken = await asyncio.gather(
        *(_take_slot(deps, h, h.cap(rules), need_id, claim_id) for h in holders)
    )
    slot_ids = [s for s in taken if s is not None]
    full = [h for h, s in zip(holders, taken, strict=True) if s is None]
    if full:
        await deps.slots.release(claim_id, slot_ids)
        CLAIMS_CAPPED.labels(full[0].kind).inc()
        raise eligibility.cap_reached(full[0], full[0].cap(rules))
    await deps.slots.record(claim_id, need_id, slot_ids)
    return slot_ids


async def _take_slot(
    deps: NeedsDeps, holder: eligibility.SlotHolder, cap: int, need_id: str, claim_id: str
) -> str | None:
    taken = await deps.slots.take(holder, cap, need_id, claim_id, deps.now())
    if taken is not None:
        return taken
    # Every slot is held: take back those a crash left behind, then try once more.
    stale_before = deps.now() - STALE_SLOT_AFTER
    freed = False
    for slot in await deps.slots.held(holder, cap):
        if slot.taken_at >= stale_before:
            continue
        need, _ = await deps.repo.get(slot.need_id)
        if not eligibility.still_holds(need, slot.claim_id, holder) and await deps.slots.drop(slot):
            log.warning("claim_slot_reclaimed", slot=slot.id, claim_id=slot.claim_id)
            freed = True
    if not freed:
        return None
    return await deps.slots.take(holder, cap, need_id, claim_id, deps.now())


async def _free_slots(deps: NeedsDeps, need: Need) -> None:
    """Gives back the cap slots of the need's claims that ended (again is harmless)."""
    for claim in need.claims:
        if claim.status != "active":
            await deps.slots.release(claim.id)


async def slot_earlier_claims(deps: NeedsDeps) -> int:
    """Active claims made before the caps rested on slots hold none: each takes its slots
    now (where one is free), so that it counts against its holders' caps. Run at start; a
    claim that holds its slots is left as it is. Returns how many claims took slots."""
    count = 0
    for need_id in await deps.repo.with_active_claims():
        need, _ = await deps.repo.get(need_id)
        if need is None:
            continue
        rules = await deps.directory.rules(need.community_id)
        for claim in need.active_claims():
            if await deps.slots.recorded(claim.id):
                continue
            holders = eligibility.slot_holders(claim.volunteer_ids, claim.organization_id)
            taken = [
                await deps.slots.take(h, h.cap(rules), need.id, claim.id, deps.now())
                for h in holders
            ]
            await deps.slots.record(claim.id, need.id, [t for t in taken if t is not None])
            count += 1
    if count:
        log.info("claim_slots_taken_for_earlier_claims", claims=count)
    return count


async def _team_leaders(deps: NeedsDeps, claims: list[Claim]) -> dict[str, str]:
    team_ids = sorted({c.team_id for c in claims if c.team_id})
    teams = await asyncio.gather(*(deps.directory.team(t) for t in team_ids))
    return {t.id: t.leader_id for t in teams if t is not None and t.leader_id}


async def release_claim(
    deps: NeedsDeps, p: Principal, need_id: str, claim_id: str, correlation_id: str | None
) -> tuple[Need, int]:
    need = await _visible_need(deps, p, need_id)
    leaders = await _team_leaders(deps, need.claims)

    def decide(need: Need, now: datetime) -> Change:
        claim = need.find_claim(claim_id)
        if claim is None:
            raise DomainError("not_found", f"认领 {claim_id} 不存在 / claim not found", id=claim_id)
        authorize(p, need, Action.RELEASE, Facts(claim=claim, team_leaders=leaders))
        return claim_domain.release_claim(need, claim_id, p.sub, now)

    released = await _change(deps, need_id, "release", Actor.of(p), decide, correlation_id)
    await deps.slots.release(claim_id)
    return released


async def _system_pass(
    deps: NeedsDeps,
    need_ids: list[str],
    action: str,
    decide: Decide,
    reason: str | None = None,
    after: Callable[[NeedsDeps, Need], Awaitable[None]] | None = None,
) -> int:
    """Applies a rule of the system's own (expiry, auto-confirm, reminders) to each need,
    then `after` to the need committed; returns how many events it committed."""
    total = 0
    for need_id in need_ids:
        count = 0

        def counted(need: Need, now: datetime) -> Change:
            nonlocal count
            changed, events = decide(need, now)
            count = len(events)  # the count of the attempt that committed
            return changed, events

        try:
            need, _ = await _change(deps, need_id, action, SYSTEM, counted, None, reason=reason)
        except DomainError as exc:  # busy or gone: the next pass tries again
            log.warning(f"{action}_skipped", need_id=need_id, error=exc.message)
            continue
        if after is not None:
            await after(deps, need)
        total += count
    return total


async def expire_due_claims(deps: NeedsDeps) -> int:
    """Releases (reason "expired") every active claim past its deadline; returns how many."""
    due = await deps.repo.with_claims_due(deps.now())
    expired = await _system_pass(
        deps, due, "expire", claim_domain.expire_claims, EXPIRY_REASON, after=_free_slots
    )
    CLAIMS_EXPIRED.inc(expired)
    return expired


async def run_claim_expiry(deps: NeedsDeps) -> None:
    """The background loop: every `claim_expiry_check_s` releases overdue claims and
    verifies completions past their auto-confirm time; first, earlier claims take slots."""
    try:
        await slot_earlier_claims(deps)
    except Exception as exc:  # the caps still hold for new claims; the next start tries again
        log.warning("claim_slots_for_earlier_claims_failed", error=repr(exc))
    while True:
        for name, task in (
            ("claim_expiry", expire_due_claims),
            ("auto_confirm", auto_confirm_due),
            ("reminders", send_reminders),
        ):
            try:
                await task(deps)
            except Exception as exc:  # the next pass tries again
                log.warning(f"{name}_failed", error=repr(exc))
        await asyncio.sleep(deps.settings.claim_expiry_check_s)


# completion and confirmation ------------------------------------------------------------


async def complete_need(
    deps: NeedsDeps, p: Principal, need_id: str, cmd: CompleteNeed, correlation_id: str | None
) -> tuple[Need, int]:
    need = await _visible_need(deps, p, need_id)
    leaders = await _team_leaders(deps, need.active_claims())
    rules = await deps.directory.rules(need.community_id)
    record = CompletionRecord(
        completion_id=str(uuid.uuid4()),
        hours=tuple(VolunteerHours(volunteer_id=h.volunteer_id, hours=h.hours) for h in cmd.hours),
        beneficiaries_served=cmd.beneficiaries_served,
        goods_count=cmd.goods_count,
        funds_cents=cmd.funds_cents,
        note=cmd.note,
        evidence_urls=tuple(cmd.evidence_urls),
        auto_confirm_days=rules.auto_confirm_days,
    )

    declared: dict[str, float] = {}
    for h in record.hours:
        declared[h.volunteer_id] = declared.get(h.volunteer_id, 0.0) + h.hours
    start, end = _today(deps)
    earlier = await deps.repo.hours_declared(list(declared), start, end, need_id)

    def decide(need: Need, now: datetime) -> Change:
        authorize(p, need, Action.COMPLETE, Facts(team_leaders=leaders))
        reasons = (
            *verification.review_reasons(need, record, earlier),
            *attendance.check_hours(need, declared, rules.check_in_required),
        )
        return completion.complete(need, replace(record, review_reasons=reasons), p.sub, now)

    completed = await _change(deps, need_id, "complete", Actor.of(p), decide, correlation_id)
    await _free_slots(deps, completed[0])
    return completed


def _today(deps: NeedsDeps) -> tuple[datetime, datetime]:
    """Today in the deployment's time zone, as a UTC interval."""
    local = deps.now().astimezone(ZoneInfo(deps.settings.timezone))
    start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return start.astimezone(UTC), (start + timedelta(days=1)).astimezone(UTC)


def _code_key(deps: NeedsDeps) -> bytes:
    # The deployment's one service-held secret (TONGXIN_PHONE_LINK_KEY), separated by its
    # purpose: no signing key for tokens is held by this service.
    return attendance.code_key(deps.settings.link_key)


async def record_attendance(
    deps: NeedsDeps,
    p: Principal,
    need_id: str,
    claim_id: str,
    step: attendance.Step,
    cmd: CheckIn,
    correlation_id: str | None,
) -> tuple[Need, int]:
    """The volunteer enters the code on arrival (check_in) and departure (check_out)."""
    volunteer_id = cmd.volunteer_id or p.sub

    def decide(need: Need, now: datetime) -> Change:
        authorize(p, need, Action.CHECK_IN, Facts(volunteer_id=volunteer_id))
        ok = attendance.code_matches(_code_key(deps), need_id, cmd.code, now)
        return attendance.record(need, claim_id, volunteer_id, step, ok, now)

    return await _change(deps, need_id, step, Actor.of(p), decide, correlation_id)


async def confirm_need(
    deps: NeedsDeps, p: Principal, need_id: str, cmd: ConfirmNeed, correlation_id: str | None
) -> tuple[Need, int]:
    def decide(need: Need, now: datetime) -> Change:
        authorize(p, need, Action.CONFIRM)
        via: VerifiedVia = "resident" if p.sub == need.requester_id else "admin"
        if p.role in GRID_WORKER_ROLES:  # the grid worker who posted for the resident
            via = "grid_worker"
        return completion.confirm(need, cmd.rating, cmd.comment, p.sub, now, via)

    return await _change(
        deps, need_id, "confirm", Actor.of(p), decide, correlation_id, reason=cmd.comment
    )


async def verify_completion(
    deps: NeedsDeps, p: Principal, need_id: str, cmd: VerifyCompletion, correlation_id: str | None
) -> tuple[Need, int]:
    """An admin verifies, settles or corrects; a grid worker verifies for the resident."""
    correction = verification.Correction(
        hours=None
        if cmd.hours is None
        else tuple(VolunteerHours(volunteer_id=h.volunteer_id, hours=h.hours) for h in cmd.hours),
        beneficiaries_served=cmd.beneficiaries_served,
        goods_count=cmd.goods_count,
        funds_cents=cmd.funds_cents,
    )

    def decide(need: Need, now: datetime) -> Change:
        authorize(p, need, Action.VERIFY)
        via: VerifiedVia = "admin" if p.administers(need.community_id) else "grid_worker"
        if via == "grid_worker" and not is_grid_worker(p, need):
            raise DomainError("forbidden", "无权核实 / may not verify")
        return verification.verify(need, p.sub, via, now, correction, cmd.reason)

    return await _change(
        deps, need_id, "verify", Actor.of(p), decide, correlation_id, reason=cmd.reason
    )


async def dispute_completion(
    deps: NeedsDeps, p: Principal, need_id: str, cmd: DisputeCompletion, correlation_id: str | None
) -> tuple[Need, int]:
    def dispute(need: Need, by: str, now: datetime) -> Change:
        return verification.dispute(need, by, cmd.reason, now)

    return await _step(
        deps, p, need_id, Action.DISPUTE, "dispute", dispute, correlation_id, cmd.reason
    )


async def send_reminders(deps: NeedsDeps) -> int:
    """Commits the reminders due now (claim due dates, completions to confirm); returns how
    many were sent."""
    due = await deps.repo.with_reminders_due(deps.now())
    return await _system_pass(deps, due, "remind", reminders.due)


async def auto_confirm_due(deps: NeedsDeps) -> int:
    """Verifies (`auto: true`) the declared hours nobody confirmed within the district's
    auto-confirm days; returns how many."""
    due = await deps.repo.with_auto_confirm_due(deps.now())
    return await _system_pass(
        deps, due, "auto_confirm", verification.auto_confirm, AUTO_CONFIRM_REASON
    )


# reads ---------------------------------------------------------------------------------


async def _visible_need(deps: NeedsDeps, p: Principal, need_id: str) -> Need:
    need, _ = await deps.repo.get(need_id)
    if need is None:
        raise need_not_found(need_id)
    authorize(p, need, Action.READ)
    return need
