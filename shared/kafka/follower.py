"""A service follows its own stream in every replica, to keep what it holds in memory current.

Not a consumer group: each replica reads every partition (no offsets committed, nothing
dead-lettered), from the end as it was before the replica loaded its state from MongoDB, so
that no change made by another replica after that load is missed. What a replica wrote itself
it has applied already; its events come back and are applied again, which must be harmless.

A replica that loads a snapshot instead (`shared.mongo.snapshots`) starts from the offsets the
snapshot reflects, and catches up to where the stream ended at start before it is ready;
`applied` says, at any moment, from where a snapshot taken then must be followed again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition
from pydantic import ValidationError

from shared.events.envelope import CloudEvent
from shared.kafka.connection import client_options
from shared.kafka.consumer import INFRA_ERRORS, backoff_s
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)


class StreamFollower:
    def __init__(
        self,
        settings: Settings,
        topic: str,
        apply: Callable[[CloudEvent], Awaitable[None]],
    ) -> None:
        self.settings = settings
        self.topic = topic
        self.apply = apply
        self._consumer: AIOKafkaConsumer | None = None
        # partition → the offset of the next event to apply; the stream's end at start
        self.applied: dict[int, int] = {}
        self.end: dict[int, int] = {}

    async def start(self, offsets: Mapping[int, int] | None = None) -> bool:
        """Takes up the stream at its present end (call before loading the state), or at
        `offsets` (a snapshot's) if the stream still holds every event from there: True then.
        False (taken up at the end) if it does not: a partition unknown to `offsets`, events
        deleted by retention, or offsets past the end (a topic made anew)."""
        if self._consumer is not None:  # a retry after a failed load starts afresh
            await self._consumer.stop()
            self._consumer = None
        s = self.settings
        consumer = AIOKafkaConsumer(
            self.topic,  # no group: every partition is assigned to this consumer
            **client_options(s),
            group_id=None,
            enable_auto_commit=False,
            auto_offset_reset="latest",
            request_timeout_ms=int(s.kafka_timeout_s * 1000) + 30_000,
            max_poll_records=s.consumer_batch_size,
        )
        await asyncio.wait_for(consumer.start(), s.kafka_timeout_s + 5)
        try:
            await asyncio.wait_for(self._assigned(consumer), s.kafka_timeout_s + 5)
            tps = sorted(consumer.assignment())
            ends = await consumer.end_offsets(tps)
            usable = offsets is not None and await self._usable(consumer, tps, ends, offsets)
            for tp in tps:
                if usable:
                    assert offsets is not None
                    consumer.seek(tp, offsets[tp.partition])
                else:
                    consumer.seek(tp, ends[tp])  # fixes the end now: events from here on are read
                self.applied[tp.partition] = await consumer.position(tp)
            self.end = {tp.partition: ends[tp] for tp in tps}
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        return usable

    @staticmethod
    async def _usable(
        consumer: AIOKafkaConsumer,
        tps: list[TopicPartition],
        ends: Mapping[TopicPartition, int],
        offsets: Mapping[int, int],
    ) -> bool:
        if {tp.partition for tp in tps} != set(offsets):
            return False
        starts = await consumer.beginning_offsets(tps)
        return all(starts[tp] <= offsets[tp.partition] <= ends[tp] for tp in tps)

    def behind(self) -> bool:
        """Whether events the stream held at start are still to be applied."""
        return any(self.applied.get(p, 0) < end for p, end in self.end.items())

    async def catch_up(self) -> int:
        """Applies what the stream held at start (after `start` from a snapshot's offsets);
        the number of events applied."""
        applied = 0
        while self.behind():
            applied += await self._poll()
        return applied

    @staticmethod
    async def _assigned(consumer: AIOKafkaConsumer) -> None:
        # aiokafka signals no assignment without a group: poll it (it takes one metadata fetch).
        while not consumer.assignment():  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def run(self) -> None:
        """Applies each event; retries what fails on the infrastructure, skips the rest."""
        assert self._consumer is not None, "start() first"
        try:
            while True:
                await self._poll()
        finally:
            await self._consumer.stop()

    async def _poll(self) -> int:
        consumer = self._consumer
        assert consumer is not None, "start() first"
        batches = await consumer.getmany(timeout_ms=1000)
        count = 0
        for tp, records in batches.items():
            for record in records:
                await self._apply(record.value)
                self.applied[tp.partition] = record.offset + 1
                count += 1
        for tp in consumer.assignment():  # past control records too (transaction markers)
            self.applied[tp.partition] = max(
                self.applied.get(tp.partition, 0), await consumer.position(tp)
            )
        return count

    async def _apply(self, value: bytes | None) -> None:
        try:
            event = CloudEvent.model_validate_json(value or b"")
        except ValidationError:
            return  # not ours to judge: the service's consumers dead-letter such records
        attempt = 0
        while True:
            try:
                await self.apply(event)
                return
            except INFRA_ERRORS as exc:
                attempt += 1
                log.warning("follower_apply_retry", event_id=event.id, error=repr(exc))
                await asyncio.sleep(backoff_s(attempt, 0.1, 5.0))
