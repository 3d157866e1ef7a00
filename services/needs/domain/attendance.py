"""Check-in and check-out (签到 / 签退): the rotating code and the interval rules. No I/O.

The resident's or grid worker's phone shows a 6-digit code for the need that changes every
`CODE_PERIOD_S`; the volunteer enters it on arrival and on departure, which proves they
were there. The code is an HMAC of the need and the time window under a key derived from
the deployment's secret, so every replica computes the same code and none is stored.
Declared hours are then checked against the interval between the two.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from typing import Literal

from services.needs.domain.need import Attendance, Change, Need, derived, need_ids
from shared.errors import DomainError
from shared.events.needs import ClaimAttendance

CODE_PERIOD_S = 300
# Declared hours may exceed the checked interval by this much (rounding, a late check-out).
GRACE_HOURS = 0.25
Step = Literal["check_in", "check_out"]


def code_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"tongxin check-in codes", hashlib.sha256).digest()


def _window(moment: datetime) -> int:
    return int(moment.astimezone(UTC).timestamp()) // CODE_PERIOD_S


def code_for(key: bytes, need_id: str, moment: datetime, back: int = 0) -> str:
    message = f"{need_id}:{_window(moment) - back}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return f"{int.from_bytes(digest[:8], 'big') % 1_000_000:06d}"


def current_code(key: bytes, need_id: str, now: datetime) -> tuple[str, datetime]:
    """The code shown now and when it changes."""
    valid_until = datetime.fromtimestamp((_window(now) + 1) * CODE_PERIOD_S, UTC)
    return code_for(key, need_id, now), valid_until


def code_matches(key: bytes, need_id: str, code: str, now: datetime) -> bool:
    """The current code, or the one just before it (typed as it changed)."""
    return any(hmac.compare_digest(code, code_for(key, need_id, now, back)) for back in (0, 1))


def record(
    need: Need, claim_id: str, volunteer_id: str, step: Step, ok: bool, now: datetime
) -> Change:
    """Records a volunteer's arrival or departure on their active claim."""
    if not ok:
        raise DomainError(
            "invalid", "签到码不正确或已过期 / the code is wrong or has expired", field="code"
        )
    claim = need.find_claim(claim_id)
    if claim is None or claim.status != "active" or volunteer_id not in claim.volunteer_ids:
        raise DomainError(
            "conflict",
            "只能为自己进行中的认领签到 / check in on your own active claim only",
            claim_id=claim_id,
        )
    seen = claim.attendance.get(volunteer_id, Attendance())
    if step == "check_in" and seen.check_in_at is not None:
        raise DomainError("conflict", "已签到 / already checked in")
    if step == "check_out" and (seen.check_in_at is None or seen.check_out_at is not None):
        raise DomainError("conflict", "未签到或已签退 / not checked in, or already checked out")
    updated = seen.model_copy(update={f"{step}_at": now})
    claims = [
        c.model_copy(update={"attendance": {**c.attendance, volunteer_id: updated}})
        if c.id == claim_id
        else c
        for c in need.claims
    ]
    return derived(need, claims=claims, updated_at=now), [
        ClaimAttendance(
            **need_ids(need),
            claim_id=claim_id,
            volunteer_id=volunteer_id,
            step=step,
            at=now,
        )
    ]


def check_hours(need: Need, hours: dict[str, float], required: bool) -> list[str]:
    """Declared hours against the checked intervals. With check-in required, hours without
    a check-in and check-out, or beyond the interval, are refused (422); without it, hours
    beyond a recorded interval are reasons for review."""
    attended: dict[str, Attendance] = {}
    for claim in need.active_claims():
        attended.update(claim.attendance)
    reasons: list[str] = []
    for volunteer_id, declared in hours.items():
        interval = attended.get(volunteer_id, Attendance()).interval_hours()
        if interval is None:
            if required:
                raise DomainError(
                    "invalid",
                    f"本区要求签到签退：志愿者 {volunteer_id} 未完成签到签退 / check-in and "
                    "check-out are required in this district",
                    field="hours",
                    volunteer_id=volunteer_id,
                )
            continue
        if declared > interval + GRACE_HOURS:
            message = (
                f"登记 {declared:g} 小时，超过签到签退间隔 {interval:.1f} 小时 / declared "
                f"{declared:g} h against a {interval:.1f} h check-in interval"
            )
            if required:
                raise DomainError("invalid", message, field="hours", volunteer_id=volunteer_id)
            reasons.append(message)
    return reasons
