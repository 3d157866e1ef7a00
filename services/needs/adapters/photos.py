"""MongoDB adapter for wishes' photos (collection `need_photos`, one per need, keyed by it).

Kept apart from the need's head and commits: a picture is not part of the need's history,
and its bytes stay out of every query of the needs. Only re-encoded pictures are stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from services.needs.domain.photo import Photo
from shared.mongo.client import Database


class PhotoStore:
    def __init__(self, db: Database) -> None:
        self.photos = db["need_photos"]

    async def put(self, need_id: str, photo: Photo, by: str, at: datetime) -> None:
        """The need's photo (a later one replaces it)."""
        await self.photos.replace_one(
            {"_id": need_id},
            {
                "_id": need_id,
                "data": photo.data,
                "content_type": photo.content_type,
                "width": photo.width,
                "height": photo.height,
                "uploaded_by": by,
                "at": at,
            },
            upsert=True,
        )

    async def get(self, need_id: str) -> Photo | None:
        doc = await self.photos.find_one({"_id": need_id})
        if doc is None:
            return None
        return Photo(bytes(doc["data"]), doc["width"], doc["height"], doc["content_type"])

    async def having(self, need_ids: Iterable[str]) -> set[str]:
        """Which of these needs have a photo."""
        ids = list(need_ids)
        if not ids:
            return set()
        cursor = self.photos.find({"_id": {"$in": ids}}, {"_id": 1})
        return {doc["_id"] async for doc in cursor}
