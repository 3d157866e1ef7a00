"""Routes: which recipient hears an event type on which channel, by scope."""

from __future__ import annotations

from datetime import datetime, timedelta

from pymongo import UpdateOne

from services.notify.adapters.repository import insert_new, upsert_bulk
from services.notify.domain.audience import Route
from shared.mongo.client import Database, find_by_ids


class Routes:
    """The route decided for each (event, recipient), inserted once for all of an event's
    recipients so that a redelivered event is routed as it was the first time; and, in memory,
    what caps and fair selection need: each volunteer's need messages per local day and when
    each was last alerted. Both are loaded at start-up from insert-only documents."""

    def __init__(self, db: Database) -> None:
        self.routes = db["routes"]
        self.alerted = db["last_alerted"]
        self.last: dict[str, datetime] = {}
        self._today: dict[tuple[str, str], int] = {}

    async def load(self, now: datetime) -> None:
        """Counts today's (and yesterday's, for other time zones) need messages; who was
        alerted when (one document per volunteer)."""
        self._today.clear()
        since = now - timedelta(hours=48)
        async for doc in self.routes.find({"counted": True, "at": {"$gte": since}}):
            key = (doc["recipient_id"], doc["day"])
            self._today[key] = self._today.get(key, 0) + 1
        async for doc in self.alerted.find({}):
            self.last[doc["_id"]] = max(doc["at"], self.last.get(doc["_id"], doc["at"]))

    def reserve(self, recipient_id: str, day: str, now: datetime, cap: int) -> bool:
        """Counts a need message for the volunteer's day; False (nothing counted) over cap.
        Alerted now either way: fair selection moves on to others."""
        self.last[recipient_id] = now
        key = (recipient_id, day)
        if self._today.get(key, 0) >= cap:
            return False
        self._today[key] = self._today.get(key, 0) + 1
        return True

    def release(self, recipient_id: str, day: str) -> None:
        key = (recipient_id, day)
        self._today[key] = max(0, self._today.get(key, 0) - 1)

    async def record(
        self, event_id: str, decided: dict[str, tuple[Route, str | None]], now: datetime
    ) -> dict[str, Route]:
        """Stores the routes (one insert); a route stored before (the event came again) wins
        and what this pass counted for it is released."""
        docs = [
            {
                "_id": f"{event_id}:{rid}",
                "recipient_id": rid,
                "counted": day is not None,
                "day": day,
                "at": now,
                **route.model_dump(),
            }
            for rid, (route, day) in decided.items()
        ]
        routes = {rid: route for rid, (route, _) in decided.items()}
        if not docs:
            return routes
        taken = await insert_new(self.routes, docs)
        if taken:
            stored = await find_by_ids(self.routes, [docs[i]["_id"] for i in taken])
            for i in taken:
                rid = docs[i]["recipient_id"]
                day = decided[rid][1]
                if day is not None:
                    self.release(rid, day)
                doc = stored.get(docs[i]["_id"])
                if doc is not None:
                    routes[rid] = Route.model_validate(doc)
        alerted = [
            UpdateOne({"_id": d["recipient_id"]}, {"$max": {"at": now}}, upsert=True)
            for i, d in enumerate(docs)
            if d["counted"] and i not in taken
        ]
        if alerted:
            await upsert_bulk(self.alerted, alerted)
        return routes
