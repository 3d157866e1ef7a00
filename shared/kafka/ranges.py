"""A consumer group's committed offsets, and the records of topics between two sets of offsets.

For read models kept from a consumer group's work (`services.metrics.adapters.snapshots`): a
snapshot records the group's committed offsets when it was taken; brought up to date, it
reads what the group committed since, with no group of its own (nothing committed, nothing
joined). Offsets are keyed "<topic>:<partition>".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping, Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from shared.kafka.connection import client_options
from shared.settings import Settings


def offset_key(tp: TopicPartition) -> str:
    return f"{tp.topic}:{tp.partition}"


def _partition(key: str) -> TopicPartition:
    topic, _, partition = key.rpartition(":")
    return TopicPartition(topic, int(partition))


def _consumer(settings: Settings, group_id: str | None) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **client_options(settings),
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(settings.kafka_timeout_s * 1000) + 30_000,
    )


async def committed_offsets(
    settings: Settings, group_id: str, topics: Sequence[str]
) -> dict[str, int]:
    """Where the group goes on from on each partition of `topics` (a partition it never
    committed on: where the topic begins, as the group's `earliest` reset takes it up). Asked
    of the admin API: a consumer with the group's id could disturb the group."""
    admin = AIOKafkaAdminClient(
        **client_options(settings), request_timeout_ms=int(settings.kafka_timeout_s * 1000)
    )
    await asyncio.wait_for(admin.start(), settings.kafka_timeout_s + 5)
    try:
        described = await asyncio.wait_for(
            admin.describe_topics(list(topics)), settings.kafka_timeout_s + 5
        )
        tps = sorted(
            TopicPartition(t["topic"], p["partition"])
            for t in described
            if t["error_code"] == 0
            for p in t["partitions"]
        )
        committed = await asyncio.wait_for(
            admin.list_consumer_group_offsets(group_id, partitions=tps),
            settings.kafka_timeout_s + 5,
        )
    finally:
        await admin.close()
    consumer = _consumer(settings, None)
    await asyncio.wait_for(consumer.start(), settings.kafka_timeout_s + 5)
    try:
        starts = await consumer.beginning_offsets(tps) if tps else {}
    finally:
        await consumer.stop()
    out: dict[str, int] = {}
    for tp in tps:
        at = committed.get(tp)
        out[offset_key(tp)] = at.offset if at is not None and at.offset >= 0 else starts[tp]
    return out


async def records_between(
    settings: Settings, start: Mapping[str, int], end: Mapping[str, int]
) -> AsyncIterator[bytes | None] | None:
    """The records' values from `start` (inclusive) to `end` (exclusive) on each partition of
    `end` (one `start` does not name is new: from its beginning); None if some of them are
    gone (retention)."""
    first = {_partition(k): start.get(k, 0) for k in end}
    wanted = {tp: end[offset_key(tp)] for tp, at in first.items() if at < end[offset_key(tp)]}
    if not wanted:
        return _nothing()
    consumer = _consumer(settings, None)
    await asyncio.wait_for(consumer.start(), settings.kafka_timeout_s + 5)
    try:
        consumer.assign(list(wanted))
        starts = await consumer.beginning_offsets(list(wanted))
        if any(starts[tp] > first[tp] for tp in wanted):
            await consumer.stop()
            return None
        for tp in wanted:
            consumer.seek(tp, first[tp])
    except BaseException:
        await consumer.stop()
        raise
    return _read(consumer, wanted)


async def _nothing() -> AsyncIterator[bytes | None]:
    nothing: tuple[bytes | None, ...] = ()
    for value in nothing:
        yield value


async def _read(
    consumer: AIOKafkaConsumer, wanted: dict[TopicPartition, int]
) -> AsyncIterator[bytes | None]:
    try:
        while wanted:
            batches = await consumer.getmany(*wanted, timeout_ms=1000)
            for tp, records in batches.items():
                for record in records:
                    if record.offset < wanted.get(tp, -1):
                        yield record.value
            for tp in list(wanted):
                if await consumer.position(tp) >= wanted[tp]:
                    consumer.pause(tp)
                    del wanted[tp]
    finally:
        await consumer.stop()
