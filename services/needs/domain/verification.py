"""Verifying a completion's hours: plausibility, verification, disputes, auto-confirm. No I/O.

Declared hours are the claimers' word. They become the record (and earn points) when the
resident confirms, a community admin or a grid worker (for the resident) verifies them, or
nobody has within the district's auto-confirm days. Implausible declarations go to review
and a disputed completion waits: only an admin in scope settles those, with a reason.
A settlement or correction after verification is the next revision of `hours.verified`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from services.needs.domain.completion import CompletionRecord, verify_hours
from services.needs.domain.need import Change, Need, derived, need_ids
from shared.errors import DomainError
from shared.events.needs import HoursDisputed, VerifiedVia, VolunteerHours

MAX_HOURS_PER_DAY = 12.0
# Figures far outside the need's own: beneficiaries beyond 10× those it names (at least
# 100); goods beyond 10,000; funds beyond ¥1,000,000 (10⁸ fen) for one completion.
BENEFICIARIES_FACTOR = 10
MIN_BENEFICIARIES_CEILING = 100
GOODS_CEILING = 10_000
FUNDS_CEILING_CENTS = 100_000_000


def review_reasons(
    need: Need, record: CompletionRecord, earlier_today: Mapping[str, float] | None = None
) -> list[str]:
    """Why a completion is implausible (it then goes to review); empty when plausible.
    `earlier_today`: hours each volunteer already declared today on other needs."""
    reasons: list[str] = []
    for entry in record.hours:
        day = entry.hours + (earlier_today or {}).get(entry.volunteer_id, 0.0)
        if day > MAX_HOURS_PER_DAY:
            reasons.append(
                f"志愿者 {entry.volunteer_id} 一天登记 {day:g} 小时，超过 "
                f"{MAX_HOURS_PER_DAY:g} 小时 / {day:g} h in a day for one person"
            )
    ceiling = max(need.beneficiaries * BENEFICIARIES_FACTOR, MIN_BENEFICIARIES_CEILING)
    if record.beneficiaries_served > ceiling:
        reasons.append(
            f"服务对象 {record.beneficiaries_served} 人，远超需求的 {need.beneficiaries} 人 / "
            f"beneficiaries far beyond the need's {need.beneficiaries}"
        )
    if record.goods_count > GOODS_CEILING:
        reasons.append(
            f"物资 {record.goods_count} 件，超过 {GOODS_CEILING} / goods beyond {GOODS_CEILING}"
        )
    if record.funds_cents > FUNDS_CEILING_CENTS:
        reasons.append(
            f"资金 ¥{record.funds_cents / 100:,.2f}，超过 ¥{FUNDS_CEILING_CENTS // 100:,} / "
            f"funds beyond ¥{FUNDS_CEILING_CENTS // 100:,}"
        )
    return reasons


@dataclass(frozen=True)
class Correction:
    """An admin's settled figures; None keeps the declared value."""

    hours: tuple[VolunteerHours, ...] | None = None
    beneficiaries_served: int | None = None
    goods_count: int | None = None
    funds_cents: int | None = None

    def is_empty(self) -> bool:
        return all(v is None for v in vars(self).values())


def verify(
    need: Need,
    by: str,
    via: VerifiedVia,
    now: datetime,
    correction: Correction,
    reason: str | None,
) -> Change:
    """An admin (or a grid worker, for declared hours as they are) verifies the completion.

    From `declared` the declaration is taken as it is (an admin may correct it, with a
    reason); from `review`, `disputed` or `verified` an admin settles it with a reason."""
    done = need.completion
    if done is None:
        raise DomainError(
            "conflict", "需求尚未登记完成 / the need has no completion yet", status=need.status
        )
    settles = done.hours_status != "declared" or not correction.is_empty()
    if settles and via != "admin":
        raise DomainError(
            "forbidden",
            "待审核、有争议或需更正的时长只能由社区管理员核定 / only an admin settles hours "
            "under review, in dispute or corrected",
            hours_status=done.hours_status,
        )
    if settles and not reason:
        raise DomainError(
            "invalid",
            "核定须说明理由 / settling or correcting hours needs a reason",
            field="reason",
        )
    if done.hours_status == "verified" and correction.is_empty():
        raise DomainError(
            "conflict", "时长已核实 / the hours are already verified", hours_status="verified"
        )
    corrected = done
    if not correction.is_empty():
        corrected = done.model_copy(
            update={k: v for k, v in _fields(correction, need).items() if v is not None}
        )
    return verify_hours(need, by, via, now, corrected=corrected, reason=reason)


def _fields(correction: Correction, need: Need) -> dict[str, object]:
    hours = None
    if correction.hours is not None:
        allowed = {h.volunteer_id for h in need.completion.hours} if need.completion else set()
        for entry in correction.hours:
            if entry.volunteer_id not in allowed:
                raise DomainError(
                    "invalid",
                    "只能更正本次完成登记过的志愿者 / only the completion's volunteers",
                    field="hours",
                    volunteer_id=entry.volunteer_id,
                )
        # A correction names the volunteers whose hours change; the others keep theirs.
        changed = {h.volunteer_id: h for h in correction.hours}
        assert need.completion is not None
        hours = [changed.get(h.volunteer_id, h) for h in need.completion.hours]
    return {
        "hours": hours,
        "beneficiaries_served": correction.beneficiaries_served,
        "goods_count": correction.goods_count,
        "funds_cents": correction.funds_cents,
    }


def dispute(need: Need, by: str, reason: str, now: datetime) -> Change:
    """The resident or an admin says the hours or figures are wrong; an admin settles it."""
    done = need.completion
    if done is None:
        raise DomainError(
            "conflict", "需求尚未登记完成 / the need has no completion yet", status=need.status
        )
    if done.hours_status == "disputed":
        raise DomainError("conflict", "已在争议中 / already disputed", hours_status="disputed")
    disputed = derived(
        need,
        completion=done.model_copy(update={"hours_status": "disputed", "dispute_reason": reason}),
        updated_at=now,
    )
    return disputed, [
        HoursDisputed(
            **need_ids(need),
            completion_id=done.id,
            reason=reason,
            was_verified=done.hours_status == "verified",
            disputed_by=by,
            disputed_at=now,
            requester_id=need.requester_id,
            volunteer_ids=sorted({h.volunteer_id for h in done.hours}),
            title=need.title,
        )
    ]


def auto_confirm(need: Need, now: datetime) -> Change:
    """Declared hours nobody confirmed by `auto_confirm_at` are verified (`auto: true`)."""
    done = need.completion
    if done is None or done.hours_status != "declared" or done.auto_confirm_at is None:
        return need, []
    if done.auto_confirm_at > now:
        return need, []
    return verify_hours(need, "system", "auto", now)
