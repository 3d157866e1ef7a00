"""The district router: each public event copied once to its district's stream (issue 19).

A subscriber authorised for one district reads `<namespace>.d.<district>.v1` (its ACL covers
that topic only, shared/kafka/acls.py) instead of every district's events on the public
streams. The router reads the four public streams (never a `.dlq`: their payloads are the
public, already masked ones of shared/visibility.py) and copies each record, key, value and
headers unchanged, to the district of its `community` attribute (its first path segment).

Exactly once per record across restarts: each batch's copies and the batch's source offsets
are one Kafka transaction (transactional id and offsets group `<prefix>.router`). A crash
before the commit aborts the transaction, and the next run starts from the offsets that
were committed with the copies, so a `read_committed` reader sees every record once. One
replica routes at a time (a MongoDB lease); a replica that lost the lease but still runs is
fenced by the broker when the next one opens the same transactional id. The router adds no
copy of its own; a record the relay itself published twice upstream (after a relay crash)
stays two records with one event id, as on the public stream.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from typing import TypeAlias

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pymongo.errors import PyMongoError

from shared.kafka.acls import PUBLIC_STREAMS
from shared.kafka.connection import client_options
from shared.kafka.topics import ensure_topics
from shared.logging import get_logger
from shared.metrics import DISTRICT_ROUTED
from shared.mongo.lease import Lease
from shared.settings import Settings

log = get_logger(__name__)

Record: TypeAlias = ConsumerRecord[bytes, bytes]


def district_of(value: bytes | None) -> str | None:
    """The district of a structured CloudEvent (`community` = `district.street.community`),
    or None for a record that is not one."""
    try:
        event = json.loads(value or b"")
    except ValueError:
        return None
    community = event.get("community") if isinstance(event, dict) else None
    if not isinstance(community, str) or not community:
        return None
    return community.split(".", 1)[0]


class DistrictRouter:
    def __init__(self, settings: Settings, lease: Lease | None = None) -> None:
        self._s = settings
        self._lease = lease  # route only while this replica holds it
        self._producer: AIOKafkaProducer | None = None
        self._consumer: AIOKafkaConsumer | None = None
        self._known: set[str] = set()

    @property
    def sources(self) -> list[str]:
        return [self._s.topics.for_stream(s) for s in PUBLIC_STREAMS]

    async def run(self) -> None:
        """Routes for as long as the process lives (a background task)."""
        try:
            while True:
                try:
                    if self._lease is not None and not await self._lease.held():
                        await self.close()
                        await asyncio.sleep(self._s.relay_lease_s / 2)
                        continue
                    if self._consumer is None:
                        await self.open()
                    await self.route_batch()
                except Exception as exc:
                    # Fenced, broker or database down, a transaction that failed: start again
                    # from the offsets committed with the last transaction (never give up:
                    # nothing else would restart this task).
                    log.warning("district_router_restart", error=repr(exc))
                    await self.close()
                    await asyncio.sleep(1)
        finally:
            await self.close()
            if self._lease is not None:
                await _quietly(self._lease.release(), self._s.kafka_timeout_s)

    async def open(self) -> None:
        s = self._s
        # The producer first: opening the transactional id aborts what a dead predecessor
        # left open, so the offsets read next are those of committed transactions only.
        producer = AIOKafkaProducer(
            **client_options(s),
            transactional_id=s.district_router_id,
            acks="all",
            enable_idempotence=True,
            request_timeout_ms=int(s.kafka_timeout_s * 1000),
        )
        try:
            await asyncio.wait_for(producer.start(), s.kafka_timeout_s)
        except BaseException:
            await _quietly(producer.stop(), s.kafka_timeout_s)
            raise
        self._producer = producer
        consumer = AIOKafkaConsumer(
            **client_options(s),
            group_id=s.district_router_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_poll_records=s.consumer_batch_size,
            request_timeout_ms=int(s.kafka_timeout_s * 1000) + 30_000,
        )
        self._consumer = consumer
        await asyncio.wait_for(consumer.start(), s.kafka_timeout_s)
        partitions = [
            TopicPartition(topic, p)
            for topic in self.sources
            for p in sorted(await producer.partitions_for(topic))
        ]
        # Assigned, not a group member: one router at a time reads every partition.
        consumer.assign(partitions)

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        producer, self._producer = self._producer, None
        if consumer is not None:
            await _quietly(consumer.stop(), self._s.kafka_timeout_s)
        if producer is not None:
            await _quietly(producer.stop(), self._s.kafka_timeout_s)

    async def route_batch(self, timeout_ms: int = 500) -> int:
        """Copies one batch in one transaction; how many records it read."""
        assert self._consumer is not None and self._producer is not None
        batch = await self._consumer.getmany(
            timeout_ms=timeout_ms, max_records=self._s.consumer_batch_size
        )
        if not batch:
            return 0
        routed: list[tuple[str, Record]] = []
        skipped = 0
        for records in batch.values():
            for record in records:
                district = district_of(record.value)
                if district is None:
                    skipped += 1
                else:
                    routed.append((self._s.topics.district(district), record))
        await self._ensure({topic for topic, _ in routed})
        producer = self._producer
        async with producer.transaction():
            for topic, record in routed:
                await producer.send(
                    topic, record.value, key=record.key, headers=list(record.headers or [])
                )
            offsets = {tp: records[-1].offset + 1 for tp, records in batch.items()}
            await producer.send_offsets_to_transaction(offsets, self._s.district_router_id)
        DISTRICT_ROUTED.labels("routed").inc(len(routed))
        DISTRICT_ROUTED.labels("skipped").inc(skipped)
        return len(routed) + skipped

    async def _ensure(self, topics: set[str]) -> None:
        new = sorted(topics - self._known)
        if new:
            await ensure_topics(self._s, new)
            self._known.update(new)


async def _quietly(step: Awaitable[None], timeout_s: float) -> None:
    try:
        await asyncio.wait_for(step, timeout_s)
    except (TimeoutError, KafkaError, OSError, PyMongoError):
        pass  # a broker (or database) that is gone cannot be told goodbye
