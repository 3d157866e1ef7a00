"""Dead letters: list what the consumers gave up on, and send it back once the cause is fixed.

`redrive` reads the `.dlq` topics in a consumer group of its own
(`<consumer_group_prefix>.ops.redrive`) and commits after sending, so each dead letter is
redriven once. A redriven record goes back to its original topic with its key and value
unchanged: every consumer group on that topic sees it again, and each one that handled it
before skips it by its event id (the processed-event ledger), while the one that failed
handles it now.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from shared.events.envelope import CloudEvent
from shared.kafka.connection import client_options
from shared.kafka.producer import EventProducer, Headers
from shared.settings import Settings, Topics

DEAD_LETTER_HEADER_PREFIX = "tongxin-"
# Kept on redrive so that the record's history travels with it.
KEPT_HEADERS = ("tongxin-redriven-from", "tongxin-redriven-at")


def redrive_group(settings: Settings) -> str:
    return f"{settings.consumer_group_prefix}.ops.redrive"


def dlq_topics(settings: Settings, topic: str | None = None) -> list[str]:
    """The dead-letter topics meant by `--topic`: a stream name, a topic, or its .dlq twin."""
    topics = settings.topics
    if topic is None:
        return [Topics.dlq(t) for t in topics.streams]
    if topic in ("needs", "volunteers", "notify"):
        return [Topics.dlq(topics.for_stream(topic))]
    return [topic if topic.endswith(".dlq") else Topics.dlq(topic)]


@dataclass(frozen=True)
class DeadLetter:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...]
    redriven: bool = False

    def header(self, name: str) -> str | None:
        for key, value in reversed(self.headers):  # the newest failure wins
            if key == name:
                return value.decode(errors="replace")
        return None

    @property
    def original_topic(self) -> str:
        return self.header("tongxin-original-topic") or self.topic.removesuffix(".dlq")

    @property
    def event(self) -> CloudEvent | None:
        try:
            return CloudEvent.from_bytes(self.value)
        except ValidationError:
            return None

    @property
    def where(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"

    def describe(self) -> str:
        event = self.event
        what = (
            f"{event.type} id={event.id}"
            if event
            else f"<not a CloudEvent, {len(self.value)} bytes>"
        )
        state = "redriven" if self.redriven else "pending"
        return (
            f"{self.where}  {state:<8}  {what}  attempts={self.header('tongxin-attempts')}  "
            f"group={self.header('tongxin-consumer-group')}  "
            f"error={(self.header('tongxin-error') or '').splitlines()[0][:200]}"
        )

    def redrive_headers(self) -> Headers:
        """The record's own headers, without the failure's, plus where it was redriven from."""
        kept: Headers = [
            (k, v)
            for k, v in self.headers
            if not k.startswith(DEAD_LETTER_HEADER_PREFIX) or k in KEPT_HEADERS
        ]
        kept.append(("tongxin-redriven-from", self.where.encode()))
        kept.append(("tongxin-redriven-at", datetime.now(UTC).isoformat().encode()))
        return kept


@dataclass
class DeadLetterScan:
    letters: list[DeadLetter]
    end_offsets: dict[TopicPartition, int]

    @property
    def pending(self) -> list[DeadLetter]:
        return [d for d in self.letters if not d.redriven]


def _consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        **client_options(settings),
        group_id=redrive_group(settings),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        request_timeout_ms=int(settings.kafka_timeout_s * 1000) + 30_000,
    )


async def _partitions(settings: Settings, topics: Sequence[str]) -> list[TopicPartition]:
    """The partitions of the topics that exist (a stream nobody dead-lettered to may not)."""
    admin = AIOKafkaAdminClient(
        **client_options(settings),
        request_timeout_ms=int(settings.kafka_timeout_s * 1000),
    )
    await asyncio.wait_for(admin.start(), settings.kafka_timeout_s)
    try:
        described = await asyncio.wait_for(
            admin.describe_topics(list(topics)), settings.kafka_timeout_s
        )
    finally:
        await admin.close()
    return sorted(
        TopicPartition(t["topic"], p["partition"])
        for t in described
        if t["error_code"] == 0
        for p in t["partitions"]
    )


async def _scan(
    settings: Settings,
    consumer: AIOKafkaConsumer,
    topics: Sequence[str],
    *,
    pending_only: bool,
    timeout_s: float,
) -> DeadLetterScan:
    """Every record up to the current end of the topics; marked redriven below the commit."""
    tps = await _partitions(settings, topics)
    if not tps:
        return DeadLetterScan([], {})
    consumer.assign(tps)
    end = await consumer.end_offsets(tps)
    begin = await consumer.beginning_offsets(tps)
    committed = {tp: await consumer.committed(tp) for tp in tps}
    for tp in tps:
        done = committed[tp]
        start = max(done, begin[tp]) if pending_only and done is not None else begin[tp]
        consumer.seek(tp, start)
    letters: list[DeadLetter] = []
    deadline = time.monotonic() + timeout_s
    remaining = {tp for tp in tps if await consumer.position(tp) < end[tp]}
    while remaining:
        if time.monotonic() > deadline:
            raise TimeoutError(f"could not read the dead letters within {timeout_s}s")
        batch = await consumer.getmany(*remaining, timeout_ms=500)
        for tp, records in batch.items():
            for record in records:
                if record.offset >= end[tp]:
                    continue
                done = committed[tp]
                letters.append(
                    DeadLetter(
                        topic=record.topic,
                        partition=record.partition,
                        offset=record.offset,
                        key=record.key,
                        value=record.value or b"",
                        headers=tuple((k, v) for k, v in (record.headers or ())),
                        redriven=done is not None and record.offset < done,
                    )
                )
        remaining = {tp for tp in remaining if await consumer.position(tp) < end[tp]}
    letters.sort(key=lambda d: (d.topic, d.partition, d.offset))
    return DeadLetterScan(letters, end)


async def list_dead_letters(
    settings: Settings, topics: Sequence[str], *, timeout_s: float = 60.0
) -> list[DeadLetter]:
    """Every dead letter still on the topics, each marked pending or already redriven."""
    consumer = _consumer(settings)
    await asyncio.wait_for(consumer.start(), settings.kafka_timeout_s)
    try:
        return (
            await _scan(settings, consumer, topics, pending_only=False, timeout_s=timeout_s)
        ).letters
    finally:
        await consumer.stop()


async def redrive(
    settings: Settings,
    topics: Sequence[str],
    confirm: Callable[[list[DeadLetter]], bool],
    *,
    timeout_s: float = 60.0,
) -> list[DeadLetter]:
    """Sends the pending dead letters back to their original topics once `confirm` agrees.

    Returns what was redriven (empty when there was nothing or `confirm` said no). The
    redrive group's offsets are committed only after the broker has every record, so an
    interrupted redrive sends again what it may already have sent (consumers dedupe by id).
    """
    consumer = _consumer(settings)
    await asyncio.wait_for(consumer.start(), settings.kafka_timeout_s)
    try:
        scan = await _scan(settings, consumer, topics, pending_only=True, timeout_s=timeout_s)
        pending = scan.pending
        if not pending or not confirm(pending):
            return []
        producer = EventProducer(settings)
        await producer.start()
        try:
            for letter in pending:
                await producer.send_raw(
                    letter.original_topic,
                    [(letter.key, letter.value, letter.redrive_headers())],
                )
        finally:
            await producer.stop()
        await asyncio.wait_for(consumer.commit(scan.end_offsets), settings.kafka_timeout_s)
        return pending
    finally:
        await consumer.stop()
