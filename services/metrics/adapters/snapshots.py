"""The projection's facts saved as a snapshot, and what the streams say changed since.

A full load reads every stored version of every fact, and each version carries the ids of
every event merged into it so far: the scan grows faster than the facts, and FerretDB's cost
grows with each document's size (72 s to ready after a restart in the fault suite). A
snapshot (`shared.mongo.snapshots`, one per generation) holds the newest version of every
fact with the metrics consumer group's committed offsets read *before* those facts were: a
batch's facts are stored before its offsets are committed, so every event below them is in
a fact the snapshot holds at that version or a later one. Brought up to date, the events the
group committed since are read from the streams (no group), and the facts they name are the
only ones that can have newer versions (`FactStore.newest_after`, by `_id`). Events not yet
committed are the consumer's to merge, as after any restart (a fact records its event ids).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Mapping, Sequence

from pydantic import ValidationError

from services.metrics.adapters.repository import snapshot_name
from services.metrics.domain import facts as facts_domain
from services.metrics.domain.facts import FACT_TYPES, Fact, FactKind
from shared.events.envelope import CloudEvent
from shared.events.registry import UnknownEventType, payload_of
from shared.kafka.ranges import committed_offsets, records_between
from shared.mongo.client import Database
from shared.mongo.snapshots import SnapshotStore, gc_paused
from shared.settings import Settings

# Bumped when the rows' encoding changes; the facts' own schemas are in the fingerprint too.
FORMAT = 1
# Facts encoded (or decoded) between two yields to the event loop.
SLICE = 2_000

Held = tuple[FactKind, Fact, int]


def fingerprint() -> str:
    schemas = {kind: model.model_json_schema() for kind, model in FACT_TYPES.items()}
    described = json.dumps([FORMAT, schemas], sort_keys=True)
    return hashlib.sha256(described.encode()).hexdigest()[:16]


class FactSnapshots:
    def __init__(self, db: Database, settings: Settings, topics: Sequence[str]) -> None:
        self.db = db
        self.settings = settings
        self.topics = list(topics)
        self.fingerprint = fingerprint()

    def _store(self, generation: int) -> SnapshotStore:
        return SnapshotStore(self.db, snapshot_name(generation), self.fingerprint)

    async def committed(self) -> dict[str, int]:
        """The metrics group's committed offsets on every partition of its streams."""
        group = self.settings.consumer_group("metrics")
        return await committed_offsets(self.settings, group, self.topics)

    async def load(self, generation: int) -> tuple[list[Held], dict[str, int]] | None:
        """The facts of the generation's newest snapshot and the offsets it reflects."""
        snapshot = await self._store(generation).load()
        if snapshot is None:
            return None
        held: list[Held] = []
        rows = snapshot.rows
        for start in range(0, len(rows), SLICE):
            with gc_paused():
                for kind, version, state in rows[start : start + SLICE]:
                    held.append((kind, facts_domain.load_fact(kind, state), int(version)))
            await asyncio.sleep(0)
        return held, snapshot.offsets

    async def save(self, generation: int, held: Sequence[Held], offsets: Mapping[str, int]) -> bool:
        rows = []
        for n, (kind, fact, version) in enumerate(held, 1):
            rows.append([kind, version, fact.model_dump(mode="json")])
            if n % SLICE == 0:
                await asyncio.sleep(0)
        return await self._store(generation).save(rows, offsets)

    async def touched(
        self, since: Mapping[str, int], until: Mapping[str, int]
    ) -> set[tuple[FactKind, str]] | None:
        """The facts that events between the two offsets merge into; None if the streams no
        longer hold all of those events (then only a full load is right)."""
        records = await records_between(self.settings, since, until)
        if records is None:
            return None
        keys: set[tuple[FactKind, str]] = set()
        async for value in records:
            try:
                key = facts_domain.fact_key(payload_of(CloudEvent.from_bytes(value or b"")))
            except (ValidationError, UnknownEventType):
                continue  # a record the consumer dead-letters: it merged into no fact
            if key is not None:
                keys.add(key)
        return keys
