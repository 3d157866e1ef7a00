"""MongoDB adapter of the needs service: needs as numbered commits with their events.

Head documents (collection `needs`) hold the newest state for queries; datetimes are
stored as BSON dates so that filters and sorts on them compare times, not strings.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Hashable, Sequence
from datetime import datetime

from services.needs.domain.listing import PROJECTION, Due, ListedNeed, listed_need
from services.needs.domain.need import Need
from services.needs.settings import NeedsSettings
from shared.listed_heads import ListedHeads
from shared.mongo.client import Document
from shared.mongo.indexes import Index
from shared.mongo.store import AggregateStore
from shared.mongo.unit_of_work import Backoff, UnitOfWork

# On MongoDB, for the filters still sent (the lists, passes and caps ask the list index).
INDEXES = (Index("needs", (("participants", 1), ("completion.completed_at", 1))),)
ACTIVE_STATUSES = ["open", "claimed"]
# A need busy with many claimants at once: up to 100 attempts, 50 ms apart at most.
BACKOFF = Backoff(base_s=0.002, cap_s=0.05, max_attempts=100)


class NeedsRepository:
    def __init__(
        self, store: AggregateStore, settings: NeedsSettings, now: Callable[[], datetime]
    ) -> None:
        self.store = store  # collection "needs" (heads, queried below) and its commits
        # Stored as BSON dates (mode "python") so that filters and sorts compare times.
        self.needs = UnitOfWork(
            self.store, Need, settings.topics.needs, now, dump="python", backoff=BACKOFF
        )
        # Every event of the needs stream is about the need its subject names.
        self.lists = ListedHeads(
            "needs",
            store,
            settings,
            settings.topics.needs,
            listed_need,
            entry_type=ListedNeed,
            descending=True,
            follows=lambda event: True,
            projection=PROJECTION,
        )

    async def get(self, need_id: str) -> tuple[Need | None, int]:
        return await self.needs.get(need_id)

    async def history(self, need_id: str, version: int) -> list[Document]:
        """The need's commits, oldest first."""
        return await self.store.history(need_id, version)

    async def page(
        self,
        buckets: Sequence[Hashable],
        after: tuple[datetime, str] | None,
        limit: int,
        matches: Callable[[ListedNeed], bool],
    ) -> list[tuple[Need, int]]:
        """Newest first by (created_at, id); `after` is the last pair of the previous page.
        The list index chooses the needs (`policy.list_buckets`, `matches`), fetched by `_id`."""
        out: list[tuple[Need, int]] = []
        for doc in await self.lists.page(buckets, after, limit, matches):
            version = int(doc.pop("_version"))
            doc["id"] = doc.pop("_id")
            out.append((Need.model_validate(doc), version))
        return out

    async def with_claims_due(self, now: datetime, limit: int = 500) -> list[str]:
        """Ids of needs holding an active claim whose deadline has passed."""
        return self._due("next_claim_expiry", now, limit)

    async def with_active_claims(self) -> list[str]:
        """Ids of needs holding an active claim (every active claim has a deadline)."""
        cursor = self.store.heads.find(
            {"status": {"$in": ACTIVE_STATUSES}, "next_claim_expiry": {"$ne": None}}, {"_id": 1}
        )
        return [doc["_id"] async for doc in cursor]

    async def with_reminders_due(self, now: datetime, limit: int = 500) -> list[str]:
        """Ids of needs with a reminder due."""
        return self._due("next_reminder", now, limit)

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
        return self._due("next_auto_confirm", now, limit)

    def _due(self, when: Due, now: datetime, limit: int) -> list[str]:
        """From the list index: each pass loads the need by id and decides again."""
        due = (e.id for e in self.lists.index.entries.values() if e.due(when, now))
        return list(itertools.islice(due, limit))
