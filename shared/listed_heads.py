"""The list index of one aggregate store's heads, kept current in every replica.

Loaded at start-up from its newest snapshot (`shared.mongo.snapshots`, a few documents read by
`_id`) and the service's stream from the offsets that snapshot reflects, caught up to the
stream's end at start before the index says it is loaded; without a usable snapshot, from the
heads (one scan, which FerretDB pays for every document of: minutes at 100,000 heads on a busy
machine). Every `read_model_snapshot_s` that anything changed, and after a full load, the
index is saved as a new snapshot. Then fed by every head this process writes
(`AggregateStore.watch`, so a replica lists its own writes at once) and by the service's own
stream for what other replicas write (`StreamFollower`, taken up at the stream's end before
the load, so that nothing written during the load is missed; each event's head is read by
`_id`). A replica sees another's change once its event has been relayed and read, well under
a second; until then the page's check against the heads keeps what it shows correct.

The heads a page shows are kept (`HeadCache`, the most recently listed) and shown again while
the index holds the same version of them, so that a page browsed again costs no database
round trip. A copy is replaced by each newer version this replica writes, and dropped when the
stream brings a newer one from another replica: a list may show a need as it was until that
event arrives (well under a second), as a get by id on that replica would not.

Memory: one small entry per head (about 0.3 KB: 100,000 needs ≈ 30 MB per replica), and the
kept heads (`CACHED_HEADS` of them, a few KB each).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Sequence
from typing import Generic

from prometheus_client import Gauge
from pymongo.errors import PyMongoError

from shared.events.envelope import CloudEvent
from shared.http import ApiError
from shared.kafka.consumer import INFRA_ERRORS, backoff_s
from shared.kafka.follower import StreamFollower
from shared.list_index import E, Key, ListIndex, page
from shared.list_snapshot import entry_of_row, fingerprint, row_of
from shared.logging import get_logger
from shared.mongo.client import Document, find_by_ids
from shared.mongo.snapshots import SnapshotStore, gc_paused
from shared.mongo.store import AggregateStore
from shared.settings import Settings

log = get_logger(__name__)

LIST_INDEX_ENTRIES = Gauge(
    "tongxin_list_index_entries",
    "Heads held in a replica's in-memory list index.",
    ["service", "store"],
)
RETRIED: tuple[type[BaseException], ...] = (PyMongoError, *INFRA_ERRORS)
CACHED_HEADS = 5_000
# A list asked for while the index loads waits this long, then answers 503.
LOAD_WAIT_S = 30.0
# Entries put between two yields to the event loop while the index loads.
LOAD_SLICE = 2_000


class HeadCache:
    """The most recently listed heads, by id (least recently used dropped first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._heads: OrderedDict[str, Document] = OrderedDict()

    def get(self, head_id: str, version: int) -> Document | None:
        head = self._heads.get(head_id)
        if head is None or int(head["_version"]) != version:
            return None
        self._heads.move_to_end(head_id)
        return dict(head)  # callers take fields out of what they get

    def put(self, head: Document) -> None:
        head_id = str(head["_id"])
        held = self._heads.get(head_id)
        if held is not None and int(held["_version"]) > int(head["_version"]):
            return
        self._heads[head_id] = dict(head)
        self._heads.move_to_end(head_id)
        while len(self._heads) > self.size:
            self._heads.popitem(last=False)

    def forget_older(self, head_id: str, version: int) -> None:
        held = self._heads.get(head_id)
        if held is not None and int(held["_version"]) < version:
            del self._heads[head_id]


class ListedHeads(Generic[E]):
    def __init__(
        self,
        service: str,
        store: AggregateStore,
        settings: Settings,
        topic: str,
        entry_of: Callable[[Document], E],
        *,
        entry_type: type[E],
        descending: bool,
        follows: Callable[[CloudEvent], bool],
        projection: Sequence[str],
    ) -> None:
        """`follows`: the events of `topic` that change a head of `store` (by `subject`);
        `projection`: the fields `entry_of` reads; `entry_type`: the entries it makes."""
        self.store = store
        self.index: ListIndex[E] = ListIndex(descending=descending)
        self.entry_of = entry_of
        self.entry_type = entry_type
        self.snapshots = SnapshotStore(
            store.heads.database, f"{store.name}_list", fingerprint(entry_type)
        )
        self.snapshot_s = settings.read_model_snapshot_s
        self.revision = 0  # counts the changes, so a snapshot is saved only after one
        # How the index was loaded ("snapshot" or "heads") and how many events it caught up.
        self.source = ""
        self.replayed = 0
        self.follows = follows
        self.projection = {f: 1 for f in (*projection, "_version")}
        self.cache = HeadCache(CACHED_HEADS)
        self.loaded = asyncio.Event()
        self.follower = StreamFollower(settings, topic, self._on_event)
        LIST_INDEX_ENTRIES.labels(service, store.name).set_function(lambda: len(self.index))
        store.watch(self._wrote)

    def seen(self, head: Document) -> None:
        self.index.put(self.entry_of(head))
        self.revision += 1

    def _wrote(self, head: Document) -> None:
        """A head this process wrote: whole, so kept if an older version of it is."""
        self.seen(head)
        self.cache.forget_older(str(head["_id"]), int(head["_version"]))

    def not_loaded(self) -> str | None:
        return None if self.loaded.is_set() else f"加载中 / loading the {self.store.name} list"

    async def run(self) -> None:
        """Loads (a snapshot and the stream since, or the heads), then follows and saves
        snapshots; retries the load until it can."""
        failures = 0
        while True:
            started = time.monotonic()
            try:
                self.source = await self._load()
                self.replayed = await self.follower.catch_up()
                break
            except RETRIED as exc:
                failures += 1
                log.warning("list_index_load_failed", store=self.store.name, error=repr(exc))
                await asyncio.sleep(backoff_s(failures, 0.2, 5.0))
        self.loaded.set()
        log.info(
            "list_index_loaded",
            store=self.store.name,
            entries=len(self.index),
            source=self.source,
            replayed=self.replayed,
            seconds=round(time.monotonic() - started, 2),
        )
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self.follower.run())
            if self.snapshot_s > 0:
                tasks.create_task(self._keep_snapshots(now=self.source == "heads"))

    async def _load(self) -> str:
        """Fills the index: from the newest snapshot if the stream still holds every event
        since, else from the heads. Which it was."""
        snapshot = await self.snapshots.load() if self.snapshot_s > 0 else None
        offsets = {int(p): o for p, o in snapshot.offsets.items()} if snapshot else {}
        if snapshot is not None and await self.follower.start(offsets):
            rows = snapshot.rows
            for start in range(0, len(rows), LOAD_SLICE):
                with gc_paused():
                    for row in rows[start : start + LOAD_SLICE]:
                        self.index.put(entry_of_row(self.entry_type, row))
                await asyncio.sleep(0)
            self.revision += 1
            return "snapshot"
        await self.follower.start()
        n = 0
        async for head in self.store.heads.find({}, self.projection):
            self.seen(head)
            n += 1
            if n % LOAD_SLICE == 0:
                await asyncio.sleep(0)
        return "heads"

    async def _keep_snapshots(self, *, now: bool) -> None:
        """Saves the index every `snapshot_s` that it changed (and at once if `now`)."""
        saved = -1 if now else self.revision
        while True:
            if self.revision != saved:
                revision = self.revision
                try:
                    await self.save_snapshot()
                    saved = revision
                except RETRIED as exc:
                    log.warning("list_snapshot_failed", store=self.store.name, error=repr(exc))
            await asyncio.sleep(self.snapshot_s)

    async def save_snapshot(self) -> bool:
        """The index as it is now and the offsets it reflects, taken in one step (no await
        between), then encoded and stored a chunk at a time."""
        offsets = {str(p): o for p, o in self.follower.applied.items()}
        entries = list(self.index.entries.values())
        rows = []
        for n, entry in enumerate(entries, 1):
            rows.append(row_of(entry))
            if n % LOAD_SLICE == 0:
                await asyncio.sleep(0)
        saved = await self.snapshots.save(rows, offsets)
        log.info("list_snapshot_saved", store=self.store.name, entries=len(rows), saved=saved)
        return saved

    async def _on_event(self, event: CloudEvent) -> None:
        if self.follows(event):
            head = await self.store.heads.find_one({"_id": event.subject}, self.projection)
            if head is not None:
                self.seen(head)
                self.cache.forget_older(event.subject, int(head["_version"]))

    async def page(
        self,
        buckets: Sequence[Hashable],
        after: Key | None,
        limit: int,
        matches: Callable[[E], bool],
    ) -> list[Document]:
        """Up to `limit` whole heads in list order after `after` (`shared.list_index.page`)."""
        try:
            await asyncio.wait_for(self.loaded.wait(), LOAD_WAIT_S)
        except TimeoutError:
            raise ApiError(503, f"列表加载中 / the {self.store.name} list is loading") from None
        return await page(
            self.index,
            buckets,
            after,
            limit,
            matches,
            self._fetch,
            self.entry_of,
        )

    async def _fetch(self, candidates: list[E]) -> dict[str, Document]:
        kept = {c.id: h for c in candidates if (h := self.cache.get(c.id, c.version)) is not None}
        missing = [c.id for c in candidates if c.id not in kept]
        fetched = await find_by_ids(self.store.heads, missing) if missing else {}
        for head in fetched.values():
            self.cache.put(head)
        return {**kept, **{i: dict(h) for i, h in fetched.items()}}
