"""The processed-event ledger: an event id stored once means its effect happened once."""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from shared.mongo.client import Database


class ProcessedEvents:
    def __init__(self, db: Database, collection: str = "processed_events") -> None:
        self._col = db[collection]

    async def seen(self, event_id: str) -> bool:
        return await self._col.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def mark(self, event_id: str, event_type: str) -> bool:
        """Records the event as handled; False if it already was."""
        try:
            await self._col.insert_one(
                {"_id": event_id, "type": event_type, "at": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            return False
        return True
