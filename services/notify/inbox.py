"""The in-app inbox: one item per (event, recipient), however often the event arrives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from shared.mongo.client import Database


class Inbox:
    def __init__(self, db: Database) -> None:
        self.items = db["inbox"]

    async def deliver(
        self, event_id: str, event_type: str, subject: str, recipient_id: str, text: str
    ) -> bool:
        try:
            await self.items.insert_one(
                {
                    "_id": f"{event_id}:{recipient_id}:inapp",
                    "recipient_id": recipient_id,
                    "event_id": event_id,
                    "type": event_type,
                    "subject": subject,
                    "text": text,
                    "read": False,
                    "created_at": datetime.now(UTC),
                }
            )
        except DuplicateKeyError:
            return False
        return True

    async def list(self, recipient_id: str) -> list[dict[str, Any]]:
        cursor = self.items.find({"recipient_id": recipient_id}).sort("created_at", -1)
        return [{**d, "id": d.pop("_id")} async for d in cursor]
