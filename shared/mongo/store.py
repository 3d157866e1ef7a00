"""Aggregates stored as numbered commits: the insert of `<id>:<version>` is the arbiter.

FerretDB 1.x has no compare-and-set (its updates read, then write), but a unique `_id`
is enforced atomically, on MongoDB too. So every change to an aggregate inserts one
commit document holding the new state and the events it causes (one atomic write: the
outbox), and two writers of the same version cannot both succeed. The head document is
a cache of the newest commit for queries; `load` rolls it forward when it lags.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from shared.events.envelope import CloudEvent
from shared.mongo.client import Database, Document

OUTBOX = "outbox"


class ConcurrencyConflict(Exception):
    """Another writer committed this version first: reload and decide again."""


def commit_id(aggregate_id: str, version: int) -> str:
    return f"{aggregate_id}:{version:010d}"


class AggregateStore:
    def __init__(self, db: Database, name: str) -> None:
        self.name = name
        self.heads = db[name]
        self.commits = db[f"{name}_commits"]
        self.outbox = db[OUTBOX]

    async def load(self, aggregate_id: str) -> tuple[Document | None, int]:
        """The newest state and its version (None, 0 when the aggregate does not exist)."""
        head = await self.heads.find_one({"_id": aggregate_id})
        version = int(head["_version"]) if head else 0
        state = _strip(head) if head else None
        rolled = False
        while True:
            nxt = await self.commits.find_one({"_id": commit_id(aggregate_id, version + 1)})
            if nxt is None:
                break
            state, version, rolled = nxt["state"], version + 1, True
        if rolled and state is not None:
            await self.write_head(aggregate_id, state, version)
        return state, version

    async def commit(
        self,
        aggregate_id: str,
        expected_version: int,
        state: Document,
        events: Sequence[tuple[str, CloudEvent]] = (),
        meta: Document | None = None,
    ) -> int:
        """Stores `state` as version expected+1 with its (topic, event) pairs, or raises
        ConcurrencyConflict. Returns the new version."""
        version = expected_version + 1
        cid = commit_id(aggregate_id, version)
        batch = str(uuid.uuid4())
        now = datetime.now(UTC)
        if events:
            # The marker goes first so that no stored commit can be missed by the relay;
            # a marker whose commit never landed is dropped by the relay.
            await self.outbox.insert_one(
                {
                    "_id": batch,
                    "aggregate": self.name,
                    "commit_id": cid,
                    "seq": time.time_ns(),
                    "created_at": now,
                }
            )
        try:
            await self.commits.insert_one(
                {
                    "_id": cid,
                    "aggregate_id": aggregate_id,
                    "version": version,
                    "batch": batch,
                    "state": state,
                    "events": [
                        {"topic": topic, "id": e.id, "type": e.type, "body": e.model_dump_json()}
                        for topic, e in events
                    ],
                    "meta": meta or {},
                    "created_at": now,
                    "published_at": None if events else now,
                }
            )
        except DuplicateKeyError:
            if events:
                await self.outbox.delete_one({"_id": batch})
            raise ConcurrencyConflict(cid) from None
        await self.write_head(aggregate_id, state, version)
        return version

    async def write_head(self, aggregate_id: str, state: Document, version: int) -> None:
        doc = {**state, "_id": aggregate_id, "_version": version}
        # On MongoDB the filter makes this a compare-and-set; on FerretDB a late stale write
        # can still land, and the next load() rolls the head forward again.
        try:
            await self.heads.replace_one(
                {"_id": aggregate_id, "_version": {"$lt": version}}, doc, upsert=True
            )
        except DuplicateKeyError:
            pass  # a newer head is already there

    async def history(self, aggregate_id: str) -> list[Document]:
        """Every commit of one aggregate, oldest first."""
        cursor = self.commits.find({"aggregate_id": aggregate_id}).sort("version", 1)
        return [c async for c in cursor]


def _strip(head: Document) -> Document:
    return {k: v for k, v in head.items() if k not in ("_id", "_version")}


def parse_events(commit: Document) -> list[tuple[str, CloudEvent]]:
    return [(e["topic"], CloudEvent.model_validate_json(e["body"])) for e in commit["events"]]
