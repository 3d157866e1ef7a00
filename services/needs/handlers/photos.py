"""A wish's photo: attached by its requester (or an admin) while it is pending or open, and
shown to those who see the requester's own details (policy.sees_photo); to everyone else a
need has no photo at all."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from services.needs.adapters.photos import PhotoStore
from services.needs.domain.need import Need
from services.needs.domain.photo import Photo, reencode
from services.needs.domain.policy import Action, authorize, sees_photo
from services.needs.handlers.commands import NeedsDeps
from services.needs.handlers.queries import get_need
from services.needs.schemas import NeedPublic
from shared.auth import Principal
from shared.http import ApiError

# A photo is taken while the wish is still waiting for someone.
ATTACHABLE = ("pending_review", "open")


async def attach_photo(
    deps: NeedsDeps, photos: PhotoStore, p: Principal, need_id: str, content: bytes
) -> Photo:
    need, _ = await get_need(deps, p, need_id)
    authorize(p, need, Action.ATTACH_PHOTO)
    if need.status not in ATTACHABLE:
        raise ApiError(
            409,
            "需求已被认领或已结束，不能再添加照片 / a photo is added only while the need is "
            "pending or open",
            details={"status": need.status},
        )
    photo = await asyncio.to_thread(reencode, content)  # CPU-bound: off the event loop
    await photos.put(need.id, photo, p.sub, deps.now())
    return photo


async def photo_of(deps: NeedsDeps, photos: PhotoStore, p: Principal, need_id: str) -> Photo:
    need, _ = await get_need(deps, p, need_id)
    photo = await photos.get(need.id) if sees_photo(p, need) else None
    if photo is None:
        raise ApiError(
            404, f"需求 {need_id} 没有照片 / the need has no photo", details={"id": need_id}
        )
    return photo


async def mark_photos(
    photos: PhotoStore, p: Principal, shown: Sequence[tuple[Need, NeedPublic]]
) -> None:
    """Sets `photo` on the views whose need has one the reader may see."""
    readable = {need.id: view for need, view in shown if sees_photo(p, need)}
    for need_id in await photos.having(readable):
        readable[need_id].photo = True
