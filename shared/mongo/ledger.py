"""The processed-event ledger: an event id stored once means its effect happened once.

Insert-only on the common path: one round trip per step, the unique index deciding.
`begin` inserts the id into a `started` collection; only when that id is already there
(a redelivery, rare) does it look up whether the earlier attempt finished.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from shared.mongo.client import Database


class ProcessedEvents:
    def __init__(self, db: Database, collection: str = "processed_events") -> None:
        self._done = db[collection]
        self._started = db[f"{collection}_started"]

    async def begin(self, event_id: str) -> bool:
        """True when the event must be handled: new, or an earlier attempt did not finish."""
        try:
            await self._started.insert_one({"_id": event_id})
        except DuplicateKeyError:
            return not await self.seen(event_id)
        return True

    async def seen(self, event_id: str) -> bool:
        return await self._done.find_one({"_id": event_id}, {"_id": 1}) is not None

    async def mark(self, event_id: str, event_type: str) -> bool:
        """Records the event as handled; False if it already was."""
        try:
            await self._done.insert_one(
                {"_id": event_id, "type": event_type, "at": datetime.now(UTC)}
            )
        except DuplicateKeyError:
            return False
        return True
