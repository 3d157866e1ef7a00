"""The end of a topic, read back to see which events a relay that died already published.

A relay killed between the broker's acknowledgement and its marker delete leaves markers
whose events are already on the topic. The relay that follows (a restart, the supervisor's
new loop, another replica taking the lease) and a relay whose last publish had an unknown
outcome read the tail of the partitions those events go to, far enough back to cover the
batch, and publish only what is not there.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.partitioner import DefaultPartitioner

from shared.events.envelope import CloudEvent
from shared.kafka.connection import client_options
from shared.kafka.producer import EventProducer
from shared.settings import Settings

# The partitioner the producer keys events with (aiokafka's default): murmur2 of the subject.
_partition_of = DefaultPartitioner()


def not_yet_published(events: Sequence[CloudEvent], present: set[str]) -> list[CloudEvent]:
    """The events to publish: of each aggregate (subject), those after the last of its
    events already `present`, so that each aggregate's events stay in order on the topic
    (an event found there means every earlier one of its aggregate was sent before it)."""
    last_present: dict[str, int] = {}
    for i, event in enumerate(events):
        if event.id in present:
            last_present[event.subject] = i
    return [e for i, e in enumerate(events) if i > last_present.get(e.subject, -1)]


class TopicTail:
    """Reads the last records of a topic's partitions (no consumer group, nothing committed),
    those the producer puts the events on."""

    def __init__(self, settings: Settings, producer: EventProducer) -> None:
        self._settings = settings
        self._producer = producer
        self._timeout = settings.kafka_timeout_s

    async def unpublished(
        self, topic: str, events: Sequence[CloudEvent], margin: int
    ) -> list[CloudEvent]:
        """`events` less those already at the end of `topic` (see `not_yet_published`).

        Each partition concerned is read back as many records as events go to it plus
        `margin` (a relay's batch: markers deleted in part before a crash leave fewer
        events than the batch put there)."""
        if not events:
            return []
        present = await asyncio.wait_for(self._ids_at_end(topic, events, margin), self._timeout)
        return not_yet_published(events, present)

    async def _ids_at_end(self, topic: str, events: Sequence[CloudEvent], margin: int) -> set[str]:
        consumer = AIOKafkaConsumer(
            **client_options(self._settings),
            group_id=None,
            enable_auto_commit=False,
            request_timeout_ms=int(self._timeout * 1000),
        )
        partitions = await self._producer.partitions(topic)
        await consumer.start()
        try:
            going: Counter[int] = Counter(
                _partition_of(e.subject.encode(), partitions, partitions) for e in events
            )
            tps = [TopicPartition(topic, p) for p in going]
            consumer.assign(tps)
            ends = await consumer.end_offsets(tps)
            starts = await consumer.beginning_offsets(tps)
            for tp in tps:
                consumer.seek(tp, max(starts[tp], ends[tp] - going[tp.partition] - margin))
            return await _read_to(consumer, ends)
        finally:
            await consumer.stop()


async def _read_to(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> set[str]:
    """The event ids of every record from each partition's position to its end offset."""
    ids: set[str] = set()
    left = {tp for tp, end in ends.items() if await consumer.position(tp) < end}
    while left:
        batch = await consumer.getmany(*left, timeout_ms=500)
        for records in batch.values():
            ids.update(_event_id(record.value) for record in records)
        left = {tp for tp in left if await consumer.position(tp) < ends[tp]}
    return ids


def _event_id(value: bytes | None) -> str:
    try:
        event_id = json.loads(value or b"").get("id")
    except (ValueError, AttributeError):
        return ""  # not an event of ours (a poison record): nothing to skip for it
    return event_id if isinstance(event_id, str) else ""
