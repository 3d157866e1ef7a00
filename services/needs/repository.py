"""MongoDB adapter of the needs service: needs as numbered commits with their events.

Head documents (collection `needs`) hold the newest state for queries; datetimes are
stored as BSON dates so that filters and sorts on them compare times, not strings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from services.needs.domain import Need
from shared.events.envelope import CloudEvent, EventPayload
from shared.mongo.client import Database, Document, find_by_ids
from shared.mongo.store import AggregateStore, commit_id
from shared.settings import Settings

ACTIVE_STATUSES = ["open", "claimed"]


class NeedsRepository:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.store = AggregateStore(db, "needs")
        self._topic = settings.topics.needs

    async def get(self, need_id: str) -> tuple[Need | None, int]:
        state, version = await self.store.load(need_id)
        return (Need.model_validate(state) if state else None), version

    async def first_version(self, need_id: str) -> Need | None:
        """The need as its first commit stored it (what a replayed POST answers)."""
        commit = await self.store.commits.find_one({"_id": commit_id(need_id, 1)})
        return None if commit is None else Need.model_validate(commit["state"])

    async def save(
        self,
        need: Need,
        expected_version: int,
        events: Sequence[EventPayload],
        correlation_id: str | None = None,
        meta: Document | None = None,
    ) -> int:
        """Commits the new state and its events (the outbox) or raises ConcurrencyConflict."""
        envelopes = [
            (self._topic, CloudEvent.wrap(e, correlation_id=correlation_id)) for e in events
        ]
        return await self.store.commit(
            need.id, expected_version, need.model_dump(mode="python"), envelopes, meta
        )

    async def history(self, need_id: str, version: int) -> list[Document]:
        """The need's commits, oldest first, each fetched by its `_id`."""
        ids = [commit_id(need_id, v) for v in range(1, version + 1)]
        found = await find_by_ids(self.store.commits, ids)
        return [found[i] for i in ids if i in found]

    async def page(
        self,
        query: dict[str, Any],
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[tuple[Need, int]]:
        """Newest first by (created_at, id); `after` is the last pair of the previous page."""
        clauses = [query]
        if after is not None:
            at, last_id = after
            clauses.append(
                {"$or": [{"created_at": {"$lt": at}}, {"created_at": at, "_id": {"$lt": last_id}}]}
            )
        cursor = (
            self.store.heads.find({"$and": clauses})
            .sort([("created_at", -1), ("_id", -1)])
            .limit(limit)
        )
        out: list[tuple[Need, int]] = []
        async for doc in cursor:
            version = int(doc.pop("_version"))
            doc["id"] = doc.pop("_id")
            out.append((Need.model_validate(doc), version))
        return out

    async def with_claims_due(self, now: datetime, limit: int = 500) -> list[str]:
        """Ids of needs holding an active claim whose deadline has passed."""
        cursor = self.store.heads.find(
            {"status": {"$in": ACTIVE_STATUSES}, "next_claim_expiry": {"$lte": now}},
            {"_id": 1},
        ).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def active_claims_of(self, kind: Literal["volunteer", "organization"], ident: str) -> int:
        """How many needs hold an active claim of this volunteer or organisation."""
        return await self.store.heads.count_documents({f"active_{kind}_ids": ident})

    async def with_reminders_due(self, now: datetime, limit: int = 500) -> list[str]:
        """Ids of needs with a reminder due."""
        cursor = self.store.heads.find({"next_reminder": {"$lte": now}}, {"_id": 1}).limit(limit)
        return [doc["_id"] async for doc in cursor]

    async def hours_declared(
        self, volunteer_ids: list[str], start: datetime, end: datetime, but: str
    ) -> dict[str, float]:
        """Hours each volunteer declared in completions of [start, end) on needs but `but`."""
        query = {
            "participants": {"$in": volunteer_ids},
            "completion.completed_at": {"$gte": start, "$lt": end},
            "_id": {"$ne": but},
        }
        totals: dict[str, float] = {}
        async for doc in self.store.heads.find(query, {"completion.hours": 1}):
            for entry in doc["completion"]["hours"]:
                if entry["volunteer_id"] in volunteer_ids:
                    totals[entry["volunteer_id"]] = totals.get(entry["volunteer_id"], 0.0) + float(
                        entry["hours"]
                    )
        return totals

    async def with_auto_confirm_due(self, now: datetime, limit: int = 500) -> list[str]:
        """Ids of needs whose declared hours are past their auto-confirm time."""
        cursor = self.store.heads.find({"next_auto_confirm": {"$lte": now}}, {"_id": 1}).limit(
            limit
        )
        return [doc["_id"] async for doc in cursor]
