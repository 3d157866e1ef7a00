"""MongoDB adapters of the notify service.

FerretDB answers only `{_id: ...}` lookups without scanning, so everything read on a hot path
is found by a composed `_id`: profiles by recipient, rosters by community, deliveries by
`<event>:<recipient>:<channel>`, inbox items by `<recipient>:<seq>`. Where several writers
may change one document, the unique insert of a commit (AggregateStore) or of a sequence
number (AppendLog) decides; never a conditional update.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from shared.mongo.client import DUPLICATE_KEY, Database, Document, find_by_ids
from shared.mongo.store import AggregateStore
from shared.mongo.unit_of_work import Backoff, until_committed

M = TypeVar("M", bound=BaseModel)

CONFLICT_BACKOFF = Backoff(base_s=0.01, cap_s=1.0, max_attempts=10)
# Documents per round trip when the in-memory state is loaded at start-up.
LOAD_BATCH = 5_000


async def read_head(store: AggregateStore, aggregate_id: str) -> Document | None:
    """The cached newest state: one `_id` lookup, for reads that tolerate a moment's lag."""
    head = await store.heads.find_one({"_id": aggregate_id})
    return None if head is None else _strip_head(head)


def _strip_head(head: Document) -> Document:
    return {k: v for k, v in head.items() if k not in ("_id", "_version")}


async def update_aggregate(
    store: AggregateStore,
    aggregate_id: str,
    model: type[M],
    change: Callable[[M | None], M | None],
) -> M | None:
    """Load, change, commit; on a conflict reload and decide again. `change` returning the
    same state (or None) writes nothing."""

    async def attempt() -> M | None:
        state, version = await store.load(aggregate_id)
        current = model.model_validate(state) if state is not None else None
        changed = change(current)
        if changed is None or (current is not None and changed == current):
            return current
        await store.commit(aggregate_id, version, changed.model_dump(mode="json"))
        return changed

    result, _ = await until_committed(attempt, CONFLICT_BACKOFF)
    return result


class AppendLog:
    """Per-key lists whose items are `<key>:<seq>`, numbered densely from 1 by unique inserts.
    The head document's `last` is only a hint: readers probe past it."""

    def __init__(self, db: Database, name: str) -> None:
        self.items = db[name]
        self.heads = db[f"{name}_heads"]

    @staticmethod
    def item_id(key: str, seq: int) -> str:
        return f"{key}:{seq:010d}"

    async def hint(self, key: str) -> int:
        head = await self.heads.find_one({"_id": key})
        return int(head.get("last", 0)) if head else 0

    async def last(self, key: str) -> int:
        n = await self.hint(key)
        while await self.items.find_one({"_id": self.item_id(key, n + 1)}, {"_id": 1}):
            n += 1
        return n

    async def append(self, key: str, doc: Document, limit: int | None = None) -> Document | None:
        """Stores `doc` as the next item of `key`; None when the list already holds `limit`."""
        n = await self.hint(key) + 1
        while True:
            if limit is not None and n > limit:
                return None
            item = {**doc, "_id": self.item_id(key, n), "key": key, "seq": n}
            try:
                await self.items.insert_one(item)
                break
            except DuplicateKeyError:
                n += 1
        await self.advance(key, n)
        return item

    async def advance(self, key: str, seq: int, **inc: int) -> None:
        update: Document = {"$max": {"last": seq}}
        if inc:
            update["$inc"] = inc
        try:
            await self.heads.update_one({"_id": key}, update, upsert=True)
        except DuplicateKeyError:  # two first appends raced to create the head
            await self.heads.update_one({"_id": key}, update)

    async def get(self, key: str, seq: int) -> Document | None:
        return await self.items.find_one({"_id": self.item_id(key, seq)})

    async def read(self, key: str, seqs: Sequence[int]) -> list[Document]:
        ids = [self.item_id(key, s) for s in seqs]
        found = await find_by_ids(self.items, ids)
        return [found[i] for i in ids if i in found]

    async def drop(self, key: str, upto: int) -> None:
        for seq in range(1, upto + 1):
            await self.items.delete_one({"_id": self.item_id(key, seq)})
        await self.heads.delete_one({"_id": key})


# Updates per `update` command: FerretDB 1.24 (SQLite) never answers one that changes 100
# stored documents or more (measured: 99 in 0.2 s; 100 held the database's writes until the
# client timed out, and the retried flush met the same), which stalled notify's batch flushes
# (#12; tests/integration/test_notify_bulk_writes.py).
UPDATES_PER_WRITE = 50


async def upsert_bulk(collection: Any, ops: Sequence[UpdateOne]) -> None:
    """Upserts in bulk writes of UPDATES_PER_WRITE; two first upserts of one document may race
    (FerretDB): the loser is applied again as an update."""
    for start in range(0, len(ops), UPDATES_PER_WRITE):
        chunk = list(ops[start : start + UPDATES_PER_WRITE])
        try:
            await collection.bulk_write(chunk, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            await collection.bulk_write([chunk[int(e["index"])] for e in errors], ordered=False)


V = TypeVar("V")


async def flush_pending(
    collection: Any,
    pending: dict[str, V],
    update: Callable[[V], Document],
    merge: Callable[[V, V], V],
) -> None:
    """Upserts `{_id: update(value)}` for each of `pending` in one bulk write and empties it;
    on failure what was taken is kept for the next try, merged (older, newer) with what was
    added since."""
    if not pending:
        return
    taken = dict(pending)
    pending.clear()
    ops = [UpdateOne({"_id": key}, update(value), upsert=True) for key, value in taken.items()]
    try:
        await upsert_bulk(collection, ops)
    except BaseException:
        for key, value in taken.items():
            pending[key] = merge(value, pending[key]) if key in pending else value
        raise


async def flush_sets(collection: Any, pending: dict[str, Document]) -> None:
    """`$set` of the fields pending per document (later ones win)."""
    await flush_pending(collection, pending, lambda f: {"$set": f}, lambda a, b: {**a, **b})


async def flush_max(collection: Any, pending: dict[str, Any], field: str) -> None:
    """`$max` of `field` per document (the larger wins)."""
    await flush_pending(collection, pending, lambda v: {"$max": {field: v}}, max)
