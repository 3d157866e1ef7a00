"""The projection: one fact per event id, so redelivery counts nothing twice."""

from __future__ import annotations

import re
from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.events.envelope import CloudEvent
from shared.mongo.client import Database


class Projection:
    def __init__(self, db: Database) -> None:
        self.facts = db["facts"]

    async def record(self, event: CloudEvent) -> None:
        try:
            await self.facts.insert_one(
                {
                    "_id": event.id,
                    "type": event.type,
                    "community": event.community,
                    "time": event.time,
                    "data": event.data,
                }
            )
        except DuplicateKeyError:
            pass

    async def count(self, scope: str, event_type: str) -> int:
        under = {"$regex": f"^{re.escape(scope)}(\\.|$)"}
        query: dict[str, Any] = {"type": event_type, "community": under}
        return await self.facts.count_documents(query)
