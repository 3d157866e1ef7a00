"""Routes: which recipient hears an event type on which channel, by scope."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta

from services.notify.adapters.repository import LOAD_BATCH, flush_max
from services.notify.domain.audience import Route
from shared.mongo.client import Database, find_by_ids, insert_new


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
        # When volunteers were alerted, stored by the next `flush` (`last` has it already).
        self._alerted: dict[str, datetime] = {}

    async def load(self, now: datetime) -> None:
        """Counts today's (and yesterday's, for other time zones) need messages; who was
        alerted when (one document per volunteer)."""
        self._today.clear()
        since = now - timedelta(hours=48)

        async def counted() -> None:
            query = {"counted": True, "at": {"$gte": since}}
            fields = {"recipient_id": 1, "day": 1}
            async for doc in self.routes.find(query, fields, batch_size=LOAD_BATCH):
                key = (doc["recipient_id"], doc["day"])
                self._today[key] = self._today.get(key, 0) + 1

        async def alerted() -> None:
            async for doc in self.alerted.find({}, batch_size=LOAD_BATCH):
                self.last[doc["_id"]] = max(doc["at"], self.last.get(doc["_id"], doc["at"]))

        await asyncio.gather(counted(), alerted())

    def chosen(self, recipient_ids: Sequence[str], now: datetime) -> None:
        """Chosen for a need now: fair selection moves on to others."""
        for rid in recipient_ids:
            self.last[rid] = now

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
        self, decided: dict[tuple[str, str], tuple[Route, str | None]], now: datetime
    ) -> dict[tuple[str, str], Route]:
        """Stores the routes decided per (event, recipient), for a batch of events (one
        insert); a route stored before (the event came again) wins and what this pass
        counted for it is released."""
        keys = list(decided)
        docs = [
            {
                "_id": f"{event_id}:{rid}",
                "recipient_id": rid,
                "counted": decided[(event_id, rid)][1] is not None,
                "day": decided[(event_id, rid)][1],
                "at": now,
                **decided[(event_id, rid)][0].model_dump(),
            }
            for event_id, rid in keys
        ]
        routes = {key: route for key, (route, _) in decided.items()}
        if not docs:
            return routes
        taken = await insert_new(self.routes, docs)
        if taken:
            stored = await find_by_ids(self.routes, [docs[i]["_id"] for i in taken])
            for i in taken:
                rid, day = docs[i]["recipient_id"], decided[keys[i]][1]
                if day is not None:
                    self.release(rid, day)
                doc = stored.get(docs[i]["_id"])
                if doc is not None:
                    routes[keys[i]] = Route.model_validate(doc)
        for d in docs:
            if d["counted"]:
                rid = d["recipient_id"]
                self._alerted[rid] = max(now, self._alerted.get(rid, now))
        return routes

    async def flush(self) -> None:
        """Stores when the volunteers routed since the last flush (the consumer's batch) were
        alerted: one bulk write. Only a restart reads them back (`load`)."""
        await flush_max(self.alerted, self._alerted, "at")
