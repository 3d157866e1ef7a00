"""The love passbook (爱心存折): points for verified hours, redemptions, star levels. No I/O.

A passbook is one aggregate per volunteer id. Each change is one commit carrying one ledger
entry, so the balance in the state and the ledger always agree, and what each completion
has been credited (as of which verified revision) lives in the state: a credit and its
dedup check are the same commit. A later revision posts the difference: a correction that
lowers the hours is a reversing (negative) entry, so the ledger's sum stays the balance.
Points per hour and star thresholds are the district's rules (shared.rules).
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel

from shared.errors import DomainError
from shared.events.volunteers import PointsCredited, PointsRedeemed, PointsReturned
from shared.rules import DEFAULT_RULES, DistrictRules


def stars_for(hours: float, rules: DistrictRules = DEFAULT_RULES) -> int:
    return rules.stars_for(hours)


def points_for(hours: float, per_hour: int = DEFAULT_RULES.points_per_hour) -> int:
    """Points per hour (10 by default), rounded half up to whole points (1.25 h → 13)."""
    exact = Decimal(str(hours)) * per_hour
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def add_hours(total: float, hours: float) -> float:
    # Decimal sums keep 0.1 + 0.2 h from drifting across a star boundary.
    return float((Decimal(str(total)) + Decimal(str(hours))).quantize(Decimal("0.01")))


class Credit(BaseModel):
    """What one completion has put in the passbook, as of its verified revision, and what
    a service record (certificates.py) lists of it."""

    revision: int
    points: int
    hours: float
    need_id: str | None = None
    title: str | None = None  # the content of the service
    community_id: str | None = None  # that recorded it (the need's)
    served_at: datetime | None = None  # completed at


class Passbook(BaseModel):
    volunteer_id: str
    community_id: str
    balance: int = 0
    hours: float = 0.0
    credited: list[str] = []  # completion ids credited before revisions were kept
    credits: dict[str, Credit] = {}
    holds: dict[str, int] = {}  # reservation id → points held for it
    returned: list[str] = []  # reservations whose points came back
    created_at: datetime
    updated_at: datetime


class LedgerEntry(BaseModel):
    id: str
    kind: Literal["credit", "reversal", "redemption", "reservation", "release"]
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
    revision: int = 1,
    rules: DistrictRules = DEFAULT_RULES,
    service: Credit | None = None,
) -> tuple[Passbook, LedgerEntry, PointsCredited] | None:
    """Brings a completion's credit to `hours` as verified in `revision`: the first credits
    them, a later one posts the difference. None when this revision (or a later one) is in
    already, or nothing changes."""
    before = passbook.credits.get(completion_id)
    if completion_id in passbook.credited or (before is not None and before.revision >= revision):
        return None
    target = points_for(hours, rules.points_per_hour)
    points = target - (before.points if before else 0)
    served = float(Decimal(str(hours)) - Decimal(str(before.hours if before else 0.0)))
    if points == 0 and served == 0:
        return None
    total = add_hours(passbook.hours, served)
    balance = passbook.balance + points
    updated = passbook.model_copy(
        update={
            "balance": balance,
            "hours": total,
            "credits": {
                **passbook.credits,
                completion_id: (service or Credit(revision=0, points=0, hours=0)).model_copy(
                    update={"revision": revision, "points": target, "hours": hours}
                ),
            },
            "updated_at": now,
        }
    )
    entry = LedgerEntry(
        id=f"credit:{completion_id}" if before is None else f"credit:{completion_id}:{revision}",
        kind="credit" if points >= 0 and served >= 0 else "reversal",
        points=points,
        balance=balance,
        hours=served,
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
        hours=served,
        total_hours=total,
        stars=stars_for(total, rules),
        credited_at=now,
        revision=revision,
    )
    return updated, entry, event


def redeem(
    passbook: Passbook, *, redemption_id: str, item: str, points: int, now: datetime
) -> tuple[Passbook, LedgerEntry, PointsRedeemed]:
    """Points spent at the counter; the balance never goes negative."""
    if points <= 0:
        raise DomainError("invalid", "积分须为正数 / points must be positive", field="points")
    return _spend(passbook, "redemption", redemption_id, item, points, now, {})


def hold(
    passbook: Passbook, *, reservation_id: str, item: str, points: int, now: datetime
) -> tuple[Passbook, LedgerEntry, PointsRedeemed] | None:
    """Holds a reservation's points (the love supermarket, 爱心超市); None when held already.
    The balance never goes negative: a hold beyond it is refused."""
    if reservation_id in passbook.holds or reservation_id in passbook.returned:
        return None
    holds = {**passbook.holds, reservation_id: points}
    return _spend(passbook, "reservation", reservation_id, item, points, now, {"holds": holds})


def _spend(
    passbook: Passbook,
    kind: Literal["redemption", "reservation"],
    spend_id: str,
    item: str,
    points: int,
    now: datetime,
    changes: dict[str, object],
) -> tuple[Passbook, LedgerEntry, PointsRedeemed]:
    if points > passbook.balance:
        raise DomainError(
            "conflict",
            f"积分不足：余额 {passbook.balance}，需要 {points} / "
            f"balance {passbook.balance} is short of {points} points",
            balance=passbook.balance,
            requested=points,
        )
    balance = passbook.balance - points
    updated = passbook.model_copy(update={"balance": balance, "updated_at": now, **changes})
    entry = LedgerEntry(
        id=f"{kind}:{spend_id}", kind=kind, points=-points, balance=balance, item=item, at=now
    )
    event = PointsRedeemed(
        volunteer_id=passbook.volunteer_id,
        community_id=passbook.community_id,
        points=points,
        balance=balance,
        redemption_id=spend_id,
        item=item,
        redeemed_at=now,
    )
    return updated, entry, event


def give_back(
    passbook: Passbook, *, reservation_id: str, item: str, now: datetime
) -> tuple[Passbook, LedgerEntry, PointsReturned] | None:
    """Returns a reservation's held points once; None when none are held for it."""
    points = passbook.holds.get(reservation_id)
    if points is None:
        return None
    balance = passbook.balance + points
    updated = passbook.model_copy(
        update={
            "balance": balance,
            "holds": {k: v for k, v in passbook.holds.items() if k != reservation_id},
            "returned": [*passbook.returned, reservation_id],
            "updated_at": now,
        }
    )
    entry = LedgerEntry(
        id=f"release:{reservation_id}",
        kind="release",
        points=points,
        balance=balance,
        item=item,
        at=now,
    )
    event = PointsReturned(
        volunteer_id=passbook.volunteer_id,
        community_id=passbook.community_id,
        points=points,
        balance=balance,
        reservation_id=reservation_id,
        returned_at=now,
    )
    return updated, entry, event
