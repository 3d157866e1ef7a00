"""The love supermarket (爱心超市): a community's catalogue, its stock, reservations. No I/O.

Stock is kept as units, one aggregate each (`<item>#<n>`): a reservation takes a free unit
by committing its next version, so the store's unique commit insert hands each unit to
exactly one reservation, and stock can never go below zero. The reserving volunteer's
points are held first (their passbook never goes negative); a reservation that then finds
no free unit gives them back. Each reservation is an aggregate too, whose state decides
whether it is handed over (against its pick-up code) or lapses (unit and points return).
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from shared.errors import DomainError
from shared.events.volunteers import (
    ItemHandedOver,
    ItemReserved,
    ReservationLapsed,
    ShopItemChanged,
)

PICK_UP_DAYS = 3
ReservationStatus = Literal["pending", "held", "handed_over", "lapsed", "failed"]


class Item(BaseModel):
    id: str
    community_id: str
    name: str
    points: int
    units: int  # units stocked so far: `<id>#1` … `<id>#<units>`
    active: bool = True
    created_at: datetime
    updated_at: datetime


class Unit(BaseModel):
    id: str
    item_id: str
    holder: str | None = None  # the reservation holding it
    handed_over: bool = False

    @property
    def free(self) -> bool:
        return self.holder is None and not self.handed_over


class Reservation(BaseModel):
    id: str
    item_id: str
    item_name: str
    community_id: str
    volunteer_id: str
    points: int
    status: ReservationStatus
    unit_id: str | None = None
    code: str | None = None  # the pick-up code
    created_at: datetime
    expires_at: datetime
    handed_over_by: str | None = None
    handed_over_at: datetime | None = None
    lapsed_at: datetime | None = None
    # A lapsed or failed reservation is settled once its unit is free and its points back.
    settled: bool = False


def unit_id(item_id: str, n: int) -> str:
    return f"{item_id}#{n}"


def item_changed(item: Item, by: str, now: datetime) -> ShopItemChanged:
    return ShopItemChanged(
        item_id=item.id,
        community_id=item.community_id,
        name=item.name,
        points=item.points,
        units=item.units,
        active=item.active,
        changed_by=by,
        changed_at=now,
    )


def change_item(
    item: Item, *, points: int | None, add_stock: int, active: bool | None, now: datetime
) -> Item:
    if add_stock < 0:
        raise DomainError(
            "invalid", "补货数量须为正 / add_stock must not be negative", field="add_stock"
        )
    return item.model_copy(
        update={
            "points": item.points if points is None else points,
            "units": item.units + add_stock,
            "active": item.active if active is None else active,
            "updated_at": now,
        }
    )


def pending(reservation_id: str, item: Item, volunteer_id: str, now: datetime) -> Reservation:
    """A reservation before its points and unit are taken (a crash leaves it to lapse)."""
    if not item.active:
        raise DomainError("conflict", "该商品已下架 / the item is no longer offered")
    return Reservation(
        id=reservation_id,
        item_id=item.id,
        item_name=item.name,
        community_id=item.community_id,
        volunteer_id=volunteer_id,
        points=item.points,
        status="pending",
        created_at=now,
        expires_at=now + timedelta(days=PICK_UP_DAYS),
    )


def take(unit: Unit, reservation_id: str) -> Unit | None:
    """The unit held for the reservation; None when it is not free."""
    return unit.model_copy(update={"holder": reservation_id}) if unit.free else None


def held(reservation: Reservation, unit: Unit, now: datetime) -> tuple[Reservation, ItemReserved]:
    code = f"{secrets.randbelow(1_000_000):06d}"
    done = reservation.model_copy(update={"status": "held", "unit_id": unit.id, "code": code})
    return done, ItemReserved(**_ids(done), expires_at=done.expires_at, reserved_at=now)


def failed(reservation: Reservation) -> Reservation:
    return reservation.model_copy(update={"status": "failed"})


def hand_over(
    reservation: Reservation, code: str, by: str, now: datetime
) -> tuple[Reservation, ItemHandedOver]:
    if reservation.status != "held":
        raise DomainError(
            "conflict",
            f"预订状态为 {reservation.status}，不能领取 / a {reservation.status} reservation "
            "cannot be handed over",
            reservation_status=reservation.status,
        )
    if not secrets.compare_digest(code, reservation.code or ""):
        raise DomainError("invalid", "取货码不正确 / wrong pick-up code", field="code")
    done = reservation.model_copy(
        update={"status": "handed_over", "handed_over_by": by, "handed_over_at": now}
    )
    return done, ItemHandedOver(**_ids(done), handed_over_by=by, handed_over_at=now)


def lapse(reservation: Reservation, now: datetime) -> tuple[Reservation, ReservationLapsed] | None:
    """A reservation not picked up (or left pending by a crash) by its time lapses."""
    if reservation.status not in ("held", "pending") or reservation.expires_at > now:
        return None
    done = reservation.model_copy(update={"status": "lapsed", "lapsed_at": now})
    return done, ReservationLapsed(**_ids(done), lapsed_at=now)


def _ids(r: Reservation) -> dict[str, object]:
    return {
        "reservation_id": r.id,
        "item_id": r.item_id,
        "community_id": r.community_id,
        "volunteer_id": r.volunteer_id,
        "points": r.points,
    }
