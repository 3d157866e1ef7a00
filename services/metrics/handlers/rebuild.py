"""Rebuild: replay every topic from the beginning into a fresh generation, then switch to it.

1. Every partition of the three streams is read from its beginning to its end, without a
   consumer group; the events are folded per fact in memory (the same merges as the live
   projection) and each fact is written once, as version 1, into a new generation.
2. Read again until a read finds nothing new, then switch the pointer to the new generation.
3. Live instances notice the switch within `metrics_pointer_poll_s` and reload; until they
   do they still write to the old generation, so the rebuild keeps reading (and writing the
   new generation, arbitrated like any writer) for a grace of several polls after the
   switch, and the pointer tells the live instances to reload once more when it is over.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TextIO

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from services.metrics.adapters.repository import FactStore, Generations, Versioned
from services.metrics.domain import facts as facts_domain
from services.metrics.domain.facts import FactKind
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.registry import UnknownEventType, payload_of
from shared.kafka.connection import client_options
from shared.mongo.client import create_client
from shared.settings import Settings

SETTLE_POLLS = 5
STALL_S = 60.0

Pending = dict[tuple[FactKind, str], list[tuple[str, EventPayload]]]


class RebuildBusy(RuntimeError):
    """Another rebuild holds the lock."""


@dataclass
class RebuildReport:
    generation: int
    previous: int | None
    events: int
    facts: int
    skipped: int
    seconds: float


class ProgressBar:
    """A one-line progress bar on a terminal stream, redrawn at most ten times a second."""

    def __init__(self, label: str, total: int, out: TextIO, width: int = 30) -> None:
        self.label, self.total, self.out, self.width = label, max(total, 0), out, width
        self.done = 0
        self._drawn = 0.0
        self._started = time.monotonic()
        self._draw()

    def advance(self, n: int = 1) -> None:
        self.done += n
        if time.monotonic() - self._drawn >= 0.1:
            self._draw()

    def close(self) -> None:
        self._draw()
        self.out.write("\n")
        self.out.flush()

    def _draw(self) -> None:
        self._drawn = time.monotonic()
        fraction = min(1.0, self.done / self.total) if self.total else 1.0
        filled = int(fraction * self.width)
        rate = self.done / max(1e-6, self._drawn - self._started)
        self.out.write(
            f"\r{self.label} [{'#' * filled}{'.' * (self.width - filled)}] "
            f"{fraction:4.0%} {self.done}/{self.total} ({rate:,.0f}/s)"
        )
        self.out.flush()


class LogReader:
    """Every partition of the streams, from the beginning, without a consumer group."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.consumer = AIOKafkaConsumer(
            **client_options(settings),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=1000,
        )
        self.partitions: list[TopicPartition] = []
        self.skipped = 0

    async def start(self) -> None:
        await asyncio.wait_for(self.consumer.start(), self.settings.kafka_timeout_s)
        # the consumer's own metadata covers subscribed topics only: ask the cluster
        cluster = await self.consumer._client.fetch_all_metadata()
        for topic in self.settings.topics.streams:
            parts = cluster.partitions_for_topic(topic) or set()
            self.partitions += [TopicPartition(topic, p) for p in sorted(parts)]
        if self.partitions:
            self.consumer.assign(self.partitions)
            await self.consumer.seek_to_beginning(*self.partitions)

    async def stop(self) -> None:
        await self.consumer.stop()

    async def remaining(self) -> tuple[dict[TopicPartition, int], int]:
        """The partitions' current ends, and how many records lie before them."""
        if not self.partitions:
            return {}, 0
        ends: dict[TopicPartition, int] = await self.consumer.end_offsets(self.partitions)
        left = 0
        for tp, end in ends.items():
            left += max(0, end - await self.consumer.position(tp))
        return ends, left

    async def read_to(
        self, ends: dict[TopicPartition, int], pending: Pending, bar: ProgressBar | None
    ) -> int:
        """Reads up to the given ends, folding what it reads into `pending`."""
        read = 0
        last_progress = time.monotonic()
        while True:
            behind = [tp for tp, end in ends.items() if await self.consumer.position(tp) < end]
            if not behind:
                return read
            batch = await self.consumer.getmany(*behind, timeout_ms=500, max_records=1000)
            for records in batch.values():
                for record in records:
                    self._fold(record.value or b"", pending)
                read += len(records)
                if bar is not None:
                    bar.advance(len(records))
            if batch:
                last_progress = time.monotonic()
            elif time.monotonic() - last_progress > STALL_S:
                raise TimeoutError(f"no records for {STALL_S}s with partitions behind: {behind}")

    def _fold(self, raw: bytes, pending: Pending) -> None:
        try:
            event = CloudEvent.from_bytes(raw)
            payload = payload_of(event)
        except (ValidationError, UnknownEventType, ValueError):
            self.skipped += 1  # a poison message: the live consumer dead-letters it too
            return
        key = facts_domain.fact_key(payload)
        if key is not None:
            pending[key].append((event.id, payload))


Facts = dict[tuple[FactKind, str], Versioned]


async def write_first(store: FactStore, pending: Pending, bar: ProgressBar | None) -> Facts:
    """Folds each fact's events in memory and stores every fact as its version 1."""
    facts: Facts = {}
    by_kind: dict[FactKind, list[Versioned]] = defaultdict(list)
    for (kind, key), events in pending.items():
        fact, _ = facts_domain.fold(None, events)
        if fact is not None:
            by_kind[kind].append((fact, 1))
            facts[(kind, key)] = (fact, 1)
    for kind, batch in by_kind.items():
        for start in range(0, len(batch), 500):
            chunk = batch[start : start + 500]
            for taken in await store.insert_versions(kind, chunk):
                # someone wrote it first (a live instance after the switch): merge with theirs
                stored = await store.apply(kind, taken, None, pending[(kind, taken)])
                if stored is not None:
                    facts[(kind, taken)] = stored
            if bar is not None:
                bar.advance(len(chunk))
    return facts


async def write_more(store: FactStore, pending: Pending, facts: Facts) -> None:
    for (kind, key), events in pending.items():
        stored = await store.apply(kind, key, facts.get((kind, key)), events)
        if stored is not None:
            facts[(kind, key)] = stored


async def rebuild(
    settings: Settings,
    out: TextIO = sys.stderr,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
) -> RebuildReport:
    started = time.monotonic()
    client = create_client(settings)
    db = client[settings.database_name("metrics")]
    generations = Generations(db)
    grace = SETTLE_POLLS * settings.metrics_pointer_poll_s
    try:
        if not await generations.lock():
            raise RebuildBusy("another rebuild is running / 另一个重建正在进行")
        try:
            for stale in await generations.stale():
                await generations.drop(stale)
            number = await generations.begin()
            store = FactStore(db, number)
            reader = LogReader(settings)
            try:
                await reader.start()
                events, facts = await _replay(reader, store, out)
                pointer = await generations.switch(number, timedelta(seconds=grace))
                deadline = time.monotonic() + grace
                while time.monotonic() < deadline:
                    events += await _catch_up(reader, store, facts)
                    await sleep(0.2)
            except BaseException:
                await generations.drop(number)
                raise
            finally:
                await reader.stop()
        finally:
            await generations.unlock()
    finally:
        await client.close()
    return RebuildReport(
        generation=number,
        previous=pointer.previous,
        events=events,
        facts=len(facts),
        skipped=reader.skipped,
        seconds=time.monotonic() - started,
    )


async def _replay(reader: LogReader, store: FactStore, out: TextIO) -> tuple[int, Facts]:
    ends, total = await reader.remaining()
    pending: Pending = defaultdict(list)
    bar = ProgressBar("读取事件 reading events", total, out)
    events = await reader.read_to(ends, pending, bar)
    bar.close()
    bar = ProgressBar("写入事实 writing facts ", len(pending), out)
    facts = await write_first(store, pending, bar)
    bar.close()
    while True:  # until a read finds nothing new
        more = await _catch_up(reader, store, facts)
        if not more:
            return events, facts
        events += more


async def _catch_up(reader: LogReader, store: FactStore, facts: Facts) -> int:
    ends, left = await reader.remaining()
    if not left:
        return 0
    pending: Pending = defaultdict(list)
    read = await reader.read_to(ends, pending, None)
    await write_more(store, pending, facts)
    return read
