"""The list index of one aggregate store's heads, kept current in every replica.

Loaded from the heads at start-up (one scan); then fed by every head this process writes
(`AggregateStore.watch`, so a replica lists its own writes at once) and by the service's own
stream for what other replicas write (`StreamFollower`, taken up at the stream's end before
the load, so that nothing written during the load is missed; each event's head is read by
`_id`). A replica sees another's change once its event has been relayed and read, well under
a second; until then the page's check against the heads keeps what it shows correct.

Memory: one small entry per head (about 0.3 KB: 100,000 needs ≈ 30 MB per replica).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from typing import Generic

from prometheus_client import Gauge
from pymongo.errors import PyMongoError

from shared.events.envelope import CloudEvent
from shared.http import ApiError
from shared.kafka.consumer import INFRA_ERRORS, backoff_s
from shared.kafka.follower import StreamFollower
from shared.list_index import E, Key, ListIndex, page
from shared.logging import get_logger
from shared.mongo.client import Document, find_by_ids
from shared.mongo.store import AggregateStore
from shared.settings import Settings

log = get_logger(__name__)

LIST_INDEX_ENTRIES = Gauge(
    "tongxin_list_index_entries",
    "Heads held in a replica's in-memory list index.",
    ["service", "store"],
)
RETRIED: tuple[type[BaseException], ...] = (PyMongoError, *INFRA_ERRORS)
# A list asked for while the index loads waits this long, then answers 503.
LOAD_WAIT_S = 30.0


class ListedHeads(Generic[E]):
    def __init__(
        self,
        service: str,
        store: AggregateStore,
        settings: Settings,
        topic: str,
        entry_of: Callable[[Document], E],
        *,
        descending: bool,
        follows: Callable[[CloudEvent], bool],
        projection: Sequence[str],
    ) -> None:
        """`follows`: the events of `topic` that change a head of `store` (by `subject`);
        `projection`: the fields `entry_of` reads."""
        self.store = store
        self.index: ListIndex[E] = ListIndex(descending=descending)
        self.entry_of = entry_of
        self.follows = follows
        self.projection = {f: 1 for f in (*projection, "_version")}
        self.loaded = asyncio.Event()
        self.follower = StreamFollower(settings, topic, self._on_event)
        LIST_INDEX_ENTRIES.labels(service, store.name).set_function(lambda: len(self.index))
        store.watch(self.seen)

    def seen(self, head: Document) -> None:
        self.index.put(self.entry_of(head))

    def not_loaded(self) -> str | None:
        return None if self.loaded.is_set() else f"加载中 / loading the {self.store.name} list"

    async def run(self) -> None:
        """Takes up the stream, loads the heads, then follows; retries until it can."""
        failures = 0
        while True:
            try:
                await self.follower.start()
                async for head in self.store.heads.find({}, self.projection):
                    self.seen(head)
                break
            except RETRIED as exc:
                failures += 1
                log.warning("list_index_load_failed", store=self.store.name, error=repr(exc))
                await asyncio.sleep(backoff_s(failures, 0.2, 5.0))
        self.loaded.set()
        log.info("list_index_loaded", store=self.store.name, entries=len(self.index))
        await self.follower.run()

    async def _on_event(self, event: CloudEvent) -> None:
        if self.follows(event):
            head = await self.store.heads.find_one({"_id": event.subject}, self.projection)
            if head is not None:
                self.seen(head)

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
            lambda ids: find_by_ids(self.store.heads, ids),
            self.entry_of,
        )
