"""Aggregates stored as numbered commits: the insert of `<id>:<version>` is the arbiter.

FerretDB 1.x has no compare-and-set (its updates read, then write), but a unique `_id`
is enforced atomically, on MongoDB too. So every change to an aggregate inserts one
commit document holding the new state and the events it causes (one atomic write: the
outbox), and two writers of the same version cannot both succeed. The head document is
a cache of the newest commit for queries; a writer that meets a taken version rolls it forward.
The outbox markers beside the commits are the outbox's (`shared/mongo/outbox.py`): the store
asks it to reserve, drop and mark them, and a stored marker wakes the relay.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from shared.events.envelope import CloudEvent
from shared.mongo.client import Database, Document, find_by_ids, insert_new
from shared.mongo.outbox import Outbox, Stored


@dataclass(frozen=True)
class NewCommit:
    """One commit of `commit_many`: the state as version expected_version + 1."""

    aggregate_id: str
    expected_version: int
    state: Document
    events: Sequence[tuple[str, CloudEvent]] = ()
    meta: Document | None = None


class ConcurrencyConflict(Exception):
    """Another writer committed this version first: reload and decide again."""


def commit_id(aggregate_id: str, version: int) -> str:
    return f"{aggregate_id}:{version:010d}"


class GroupCommit:
    """Commits that arrive while a bulk write is in flight wait and go together in the next
    one: a few round trips for many concurrent writers, and no wait for a writer alone."""

    MAX_BATCH = 200

    def __init__(self, write: Callable[[Sequence[NewCommit]], Awaitable[list[bool]]]) -> None:
        self._write = write
        self._waiting: list[tuple[NewCommit, asyncio.Future[bool]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def submit(self, commit: NewCommit) -> bool:
        """True when stored, False when that version was taken; raises what the write raised."""
        done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._waiting.append((commit, done))
        if self._writer is None:
            self._writer = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        batch: list[tuple[NewCommit, asyncio.Future[bool]]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self.MAX_BATCH]
                del self._waiting[: self.MAX_BATCH]
                try:
                    stored = await self._write([c for c, _ in batch])
                except Exception as exc:
                    _settle(batch, exc)
                    continue
                for (_, done), ok in zip(batch, stored, strict=True):
                    if not done.done():
                        done.set_result(ok)
        finally:
            # Cancelled (the loop is closing): nobody may wait for an answer that never comes.
            self._writer = None
            _settle([*batch, *self._waiting], ConnectionError("the commit writer stopped"))
            self._waiting.clear()


def _settle(waiting: Sequence[tuple[NewCommit, asyncio.Future[bool]]], exc: Exception) -> None:
    for _, done in waiting:
        if not done.done():
            done.set_exception(exc)


class AggregateStore:
    def __init__(self, db: Database, name: str) -> None:
        self.name = name
        self.heads = db[name]
        self.commits = db[f"{name}_commits"]
        self.outbox = Outbox.of(db)
        self._group = GroupCommit(self.commit_many)
        self._watchers: list[Callable[[Document], None]] = []

    def watch(self, seen: Callable[[Document], None]) -> None:
        """`seen` is handed every head this process writes (in-memory read models)."""
        self._watchers.append(seen)

    def _wrote(self, head: Document) -> None:
        for seen in self._watchers:
            seen(head)

    async def load(self, aggregate_id: str) -> tuple[Document | None, int]:
        """The state the head holds and its version (None, 0 when there is none).

        No probe for newer commits here (one round trip per read): a head left behind is
        caught when `commit` meets the taken version, which rolls the head forward before
        raising ConcurrencyConflict."""
        head = await self.heads.find_one({"_id": aggregate_id})
        if head is None:
            return None, 0
        return _strip(head), int(head["_version"])

    async def roll_forward(self, aggregate_id: str) -> tuple[Document | None, int]:
        """The newest state, following commits past the head; heals the head."""
        state, version = await self.load(aggregate_id)
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
        ConcurrencyConflict. Returns the new version. Commits made while others are being
        written go to MongoDB together (`GroupCommit`)."""
        stored = await self._group.submit(
            NewCommit(aggregate_id, expected_version, state, events, meta)
        )
        if not stored:
            # The head may lag behind the commits: the retry must see the newest state.
            await self.roll_forward(aggregate_id)
            raise ConcurrencyConflict(commit_id(aggregate_id, expected_version + 1))
        return expected_version + 1

    async def commit_grouped(self, commits: Sequence[NewCommit]) -> list[bool]:
        """`commit_many` that joins the commits of concurrent writers (`GroupCommit`): the
        handlers of partitions taken side by side share their bulk writes."""
        return list(await asyncio.gather(*(self._group.submit(c) for c in commits)))

    async def commit_many(self, commits: Sequence[NewCommit]) -> list[bool]:
        """Stores many commits with a few bulk writes and the guarantees of `commit`: outbox
        markers (with the events) first, then one unordered insert of the commits in which
        the unique `_id` decides each one, then the heads, then the markers of the stored
        ones are set `stored`. Returns per commit True (stored) or False (version taken)."""
        if not commits:
            return []
        now = datetime.now(UTC)
        seq = time.time_ns()
        batches = [str(uuid.uuid4()) for _ in commits]
        docs = []
        markers = []
        for i, (c, batch) in enumerate(zip(commits, batches, strict=True)):
            cid = commit_id(c.aggregate_id, c.expected_version + 1)
            events = [
                {"topic": topic, "id": e.id, "type": e.type, "body": e.model_dump_json()}
                for topic, e in c.events
            ]
            docs.append(
                {
                    "_id": cid,
                    "aggregate_id": c.aggregate_id,
                    "version": c.expected_version + 1,
                    "batch": batch,
                    "state": c.state,
                    "events": events,
                    "meta": c.meta or {},
                    "created_at": now,
                }
            )
            if events:
                markers.append(
                    {
                        "_id": batch,
                        "aggregate": self.name,
                        "commit_id": cid,
                        "seq": seq + i,
                        "created_at": now,
                        # Set once the commit and its head are stored: the relay then
                        # publishes these events without reading the commit.
                        "stored": False,
                        "events": events,
                    }
                )
        await self.outbox.reserve(markers)
        taken = await insert_new(self.commits, docs)
        await self.outbox.drop([batches[i] for i in taken])
        stored = [i not in taken for i in range(len(commits))]
        # Heads of new aggregates go in one insert; the others one by one.
        fresh = [
            {**c.state, "_id": c.aggregate_id, "_version": 1}
            for c, ok in zip(commits, stored, strict=True)
            if ok and c.expected_version == 0
        ]
        if fresh:
            await insert_new(self.heads, fresh)
        for head in fresh:
            self._wrote(head)
        await asyncio.gather(
            *(
                self.write_head(c.aggregate_id, c.state, c.expected_version + 1)
                for c, ok in zip(commits, stored, strict=True)
                if ok and c.expected_version > 0
            )
        )
        # The stored commits go to the relay in memory, those without events too (they keep
        # each aggregate's chain of versions), each with its own marker: by batch, not by
        # commit id, which racing writers of one version share.
        marker_of = {m["_id"]: m for m in markers}
        await self.outbox.mark_stored(
            [
                Stored(f"{self.name}/{c.aggregate_id}", c.expected_version + 1, marker_of.get(b))
                for c, b, ok in zip(commits, batches, stored, strict=True)
                if ok
            ]
        )
        return stored

    async def first_state(self, aggregate_id: str) -> Document | None:
        """The state as the aggregate's first commit stored it."""
        commit = await self.commits.find_one({"_id": commit_id(aggregate_id, 1)})
        return None if commit is None else dict(commit["state"])

    async def history(self, aggregate_id: str, version: int) -> list[Document]:
        """The commits up to `version`, oldest first, each fetched by its `_id`: state, events,
        audit `meta`, `created_at`."""
        ids = [commit_id(aggregate_id, v) for v in range(1, version + 1)]
        found = await find_by_ids(self.commits, ids)
        return [found[i] for i in ids if i in found]

    async def committed(self, commit_ids: Sequence[str]) -> dict[str, Document]:
        """The commits among `commit_ids` that were stored (with `batch` and `events`), for
        the relay; heads a writer left behind (it died after its commit) are healed here."""
        found = await find_by_ids(self.commits, commit_ids)
        owners = {c["aggregate_id"] for c in found.values()}
        heads = await find_by_ids(self.heads, owners, {"_version": 1})
        for commit in sorted(found.values(), key=lambda c: int(c["version"])):
            head = heads.get(commit["aggregate_id"])
            if head is None or int(head["_version"]) < commit["version"]:
                await self.write_head(commit["aggregate_id"], commit["state"], commit["version"])
                heads[commit["aggregate_id"]] = {"_version": commit["version"]}
        return found

    async def write_head(self, aggregate_id: str, state: Document, version: int) -> None:
        doc = {**state, "_id": aggregate_id, "_version": version}
        # A first version is inserted outright. Later ones read first and replace only the
        # version they saw: a compare-and-set on MongoDB; on FerretDB (no atomic
        # find-and-replace) a late stale write can still land, and the next writer meets the
        # taken version and rolls the head forward.
        head = None
        if version > 1:
            head = await self.heads.find_one({"_id": aggregate_id}, {"_version": 1})
        if head is None:
            try:
                await self.heads.insert_one(doc)
                self._wrote(doc)
                return
            except DuplicateKeyError:
                head = await self.heads.find_one({"_id": aggregate_id}, {"_version": 1})
                if head is None:
                    return
        if int(head["_version"]) < version:
            await self.heads.replace_one({"_id": aggregate_id, "_version": head["_version"]}, doc)
        self._wrote(doc)  # a newer head already stored: the watcher keeps the newer one


def _strip(head: Document) -> Document:
    return {k: v for k, v in head.items() if k not in ("_id", "_version")}


def parse_events(commit: Document) -> list[tuple[str, CloudEvent]]:
    return [(e["topic"], CloudEvent.model_validate_json(e["body"])) for e in commit["events"]]
