"""MongoDB adapter of the metrics projection: insert-only fact versions in generations.

Facts are never updated: each change inserts the next version `<key>:<version>` (the
unique insert is the arbiter between writers, as in shared.mongo.store, and a consumer
batch's changes go in one insert per kind), the newest versions are read once into memory
at start, and lookups on the hot path hit memory. A rebuild writes each fact once, which
also compacts history.

A generation `n` is the set of collections `g<n>_<kind>`; the pointer document names the
active one.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.metrics.domain import facts as facts_domain
from services.metrics.domain.facts import Fact, FactKind
from shared.events.envelope import EventPayload
from shared.mongo.client import Database, insert_new
from shared.mongo.snapshots import SnapshotStore
from shared.mongo.store import ConcurrencyConflict
from shared.mongo.unit_of_work import Backoff, until_committed

POINTER = "projection_pointer"
GENERATIONS = "projection_generations"
POINTER_ID = "pointer"
LOCK_ID = "rebuild-lock"
BACKOFF = Backoff(base_s=0.005, cap_s=0.2, max_attempts=50)
BULK = 500

Versioned = tuple[Fact, int]


@dataclass(frozen=True)
class Pointer:
    active: int
    previous: int | None = None
    # Until then a finished rebuild may still be writing the events around its switch.
    settling_until: datetime | None = None


class Generations:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._pointer = db[POINTER]
        self._generations = db[GENERATIONS]

    async def pointer(self) -> Pointer:
        """The pointer; generation 1 is created the first time anyone asks."""
        doc = await self._pointer.find_one({"_id": POINTER_ID})
        if doc is None:
            for collection, first in (
                (self._generations, {"_id": 1, "created_at": datetime.now(UTC)}),
                (self._pointer, {"_id": POINTER_ID, "active": 1}),
            ):
                try:
                    await collection.insert_one(first)
                except DuplicateKeyError:
                    pass
            doc = await self._pointer.find_one({"_id": POINTER_ID})
            assert doc is not None
        return Pointer(doc["active"], doc.get("previous"), doc.get("settling_until"))

    async def begin(self) -> int:
        """A new, empty generation (not yet active)."""
        current = await self.pointer()
        taken = [int(d["_id"]) async for d in self._generations.find({}, {"_id": 1})]
        number = max([*taken, current.active]) + 1
        while True:
            try:
                await self._generations.insert_one({"_id": number, "created_at": datetime.now(UTC)})
                return number
            except DuplicateKeyError:
                number += 1

    async def switch(self, number: int, settle: timedelta) -> Pointer:
        """Makes the generation active; the one before is kept as `previous`."""
        current = await self.pointer()
        pointer = Pointer(number, current.active, datetime.now(UTC) + settle)
        await self._pointer.replace_one(
            {"_id": POINTER_ID},
            {
                "_id": POINTER_ID,
                "active": pointer.active,
                "previous": pointer.previous,
                "settling_until": pointer.settling_until,
                "switched_at": datetime.now(UTC),
            },
            upsert=True,
        )
        return pointer

    async def drop(self, number: int) -> None:
        prefix = f"g{number}_"
        for name in await self._db.list_collection_names():
            if name.startswith(prefix):
                await self._db.drop_collection(name)
        await SnapshotStore(self._db, snapshot_name(number), "").drop()
        await self._generations.delete_one({"_id": number})

    async def stale(self) -> list[int]:
        """Generations neither active nor the previous one (kept for comparison)."""
        current = await self.pointer()
        numbers = [int(d["_id"]) async for d in self._generations.find({}, {"_id": 1})]
        return sorted(n for n in numbers if n not in (current.active, current.previous))

    async def lock(self, stale_after: timedelta = timedelta(hours=2)) -> bool:
        """One rebuild at a time: the unique insert of the lock document decides."""
        now = datetime.now(UTC)
        try:
            await self._pointer.insert_one({"_id": LOCK_ID, "at": now})
            return True
        except DuplicateKeyError:
            doc = await self._pointer.find_one({"_id": LOCK_ID})
            if doc is not None and now - doc["at"] > stale_after:
                await self._pointer.delete_one({"_id": LOCK_ID})
                return await self.lock(stale_after)
            return False

    async def unlock(self) -> None:
        await self._pointer.delete_one({"_id": LOCK_ID})


def snapshot_name(generation: int) -> str:
    """The name the generation's snapshot goes by (`adapters.snapshots`)."""
    return f"facts_g{generation}"


def version_id(key: str, version: int) -> str:
    return f"{key}:{version:08d}"


class FactStore:
    """The facts of one generation, as insert-only versions."""

    def __init__(self, db: Database, generation: int) -> None:
        self.generation = generation
        self._collections = {kind: db[f"g{generation}_{kind}"] for kind in facts_domain.FACT_KINDS}

    async def insert(self, kind: FactKind, fact: Fact, version: int) -> None:
        """Stores `fact` as `version`, or raises ConcurrencyConflict if that one exists."""
        try:
            await self._collections[kind].insert_one(_doc(fact, version))
        except DuplicateKeyError:
            raise ConcurrencyConflict(version_id(fact.id, version)) from None

    async def insert_versions(self, kind: FactKind, versions: Sequence[Versioned]) -> set[str]:
        """Stores each (fact, version), many at a time; returns the ids of the facts whose
        version another writer stored first."""
        taken: set[str] = set()
        for start in range(0, len(versions), BULK):
            chunk = versions[start : start + BULK]
            docs = [_doc(f, v) for f, v in chunk]
            taken |= {chunk[i][0].id for i in await insert_new(self._collections[kind], docs)}
        return taken

    async def newest_after(self, kind: FactKind, key: str, version: int) -> Versioned | None:
        """The newest version above `version`: one `_id` probe per version (a rare path)."""
        found: Versioned | None = None
        while True:
            doc = await self._collections[kind].find_one({"_id": version_id(key, version + 1)})
            if doc is None:
                return found
            version += 1
            found = (_fact(kind, doc), version)

    async def apply(
        self,
        kind: FactKind,
        key: str,
        known: Versioned | None,
        events: Sequence[tuple[str, EventPayload]],
    ) -> Versioned | None:
        """Merges the events into the fact as this writer knows it and stores the next
        version; if another writer stored it first, merges into theirs and tries again.
        Returns the new (fact, version), or None when the fact held every event already."""
        fact, version = known if known is not None else (None, 0)

        async def attempt() -> Versioned | None:
            nonlocal fact, version
            merged, _ = facts_domain.fold(fact, events)
            if merged is None:
                return None
            try:
                await self.insert(kind, merged, version + 1)
            except ConcurrencyConflict:
                newer = await self.newest_after(kind, key, version)
                if newer is not None:
                    fact, version = newer
                raise
            return merged, version + 1

        stored, _ = await until_committed(attempt, BACKOFF)
        return stored

    async def newest(self, kind: FactKind) -> dict[str, Versioned]:
        """The newest version of every fact (a full scan: at a start with no snapshot, a
        switch, a settling rebuild), streamed: memory holds one document per fact, not every
        version; facts are made a slice at a time, so the event loop serves meanwhile."""
        newest: dict[str, dict[str, Any]] = {}
        async for doc in self._collections[kind].find({}):
            held = newest.get(doc["key"])
            if held is None or held["version"] < doc["version"]:
                newest[doc["key"]] = doc
        facts: dict[str, Versioned] = {}
        while newest:  # each document is let go as its fact is made
            key, doc = newest.popitem()
            facts[key] = (_fact(kind, doc), int(doc["version"]))
            if len(facts) % 2_000 == 0:
                await asyncio.sleep(0)
        return facts


def _doc(fact: Fact, version: int) -> dict[str, Any]:
    return {
        "_id": version_id(fact.id, version),
        "key": fact.id,
        "version": version,
        "state": fact.model_dump(mode="json"),
    }


def _fact(kind: FactKind, doc: dict[str, Any]) -> Fact:
    return facts_domain.load_fact(kind, doc["state"])
