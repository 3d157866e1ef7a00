"""The love passbook (爱心存折): points for service hours, redemptions, star levels. No I/O.

A passbook is one aggregate per volunteer id. Each change is one commit carrying one ledger
entry, so the balance in the state and the ledger always agree, and the completion ids
already credited live in the state: a credit and its dedup check are the same commit.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel

from shared.errors import DomainError
from shared.events.volunteers import PointsCredited, PointsRedeemed

POINTS_PER_HOUR = 10
# Cumulative service hours for ★ … ★★★★★ (the national volunteer-record standard).
STAR_HOURS: tuple[int, ...] = (100, 300, 600, 1000, 1500)


def stars_for(hours: float) -> int:
    return sum(1 for threshold in STAR_HOURS if hours >= threshold)


def points_for(hours: float) -> int:
    """10 points per hour, rounded half up to whole points (1.25 h → 13)."""
    exact = Decimal(str(hours)) * POINTS_PER_HOUR
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def add_hours(total: float, hours: float) -> float:
    # Decimal sums keep 0.1 + 0.2 h from drifting across a star boundary.
    return float((Decimal(str(total)) + Decimal(str(hours))).quantize(Decimal("0.01")))


class Passbook(BaseModel):
    volunteer_id: str
    community_id: str
    balance: int = 0
    hours: float = 0.0
    credited: list[str] = []  # completion ids already credited
    created_at: datetime
    updated_at: datetime

    @property
    def stars(self) -> int:
        return stars_for(self.hours)


class LedgerEntry(BaseModel):
    id: str
    kind: Literal["credit", "redemption"]
    points: int  # signed: a redemption is negative
    balance: int  # after this entry
    hours: float = 0.0
    need_id: str | None = None
    completion_id: str | None = None
    item: str | None = None
    at: datetime


def empty(volunteer_id: str, community_id: str, now: datetime) -> Passbook:
    return Passbook(
        volunteer_id=volunteer_id, community_id=community_id, created_at=now, updated_at=now
    )


def credit(
    passbook: Passbook,
    *,
    need_id: str,
    completion_id: str,
    hours: float,
    now: datetime,
) -> tuple[Passbook, LedgerEntry, PointsCredited] | None:
    """Credits a completion's hours once; None when this completion was already credited."""
    if completion_id in passbook.credited or hours <= 0:
        return None
    points = points_for(hours)
    total = add_hours(passbook.hours, hours)
    balance = passbook.balance + points
    updated = passbook.model_copy(
        update={
            "balance": balance,
            "hours": total,
            "credited": [*passbook.credited, completion_id],
            "updated_at": now,
        }
    )
    entry = LedgerEntry(
        id=f"credit:{completion_id}",
        kind="credit",
        points=points,
        balance=balance,
        hours=hours,
        need_id=need_id,
        completion_id=completion_id,
        at=now,
    )
    event = PointsCredited(
        volunteer_id=passbook.volunteer_id,
        community_id=passbook.community_id,
        points=points,
        balance=balance,
        need_id=need_id,
        completion_id=completion_id,
        hours=hours,
        total_hours=total,
        stars=stars_for(total),
        credited_at=now,
    )
    return updated, entry, event


def redeem(
    passbook: Passbook, *, redemption_id: str, item: str, points: int, now: datetime
) -> tuple[Passbook, LedgerEntry, PointsRedeemed]:
    """Spends points at the love supermarket (爱心超市); the balance never goes negative."""
    if points <= 0:
        raise DomainError("invalid", "积分须为正数 / points must be positive", field="points")
    if points > passbook.balance:
        raise DomainError(
            "conflict",
            f"积分不足：余额 {passbook.balance}，需要 {points} / "
            f"balance {passbook.balance} is short of {points} points",
            balance=passbook.balance,
            requested=points,
        )
    balance = passbook.balance - points
    updated = passbook.model_copy(update={"balance": balance, "updated_at": now})
    entry = LedgerEntry(
        id=f"redemption:{redemption_id}",
        kind="redemption",
        points=-points,
        balance=balance,
        item=item,
        at=now,
    )
    event = PointsRedeemed(
        volunteer_id=passbook.volunteer_id,
        community_id=passbook.community_id,
        points=points,
        balance=balance,
        redemption_id=redemption_id,
        item=item,
        redeemed_at=now,
    )
    return updated, entry, event
