"""The one consumer runner: commit per batch after handling, bounded retries, dead letters."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError

from shared.events.envelope import CloudEvent, EventPayload
from shared.events.registry import UnknownEventType, payload_of
from shared.kafka.connection import client_options
from shared.kafka.deadletter import dead_letter_headers
from shared.kafka.producer import EventProducer, Headers
from shared.logging import get_logger, log_context
from shared.metrics import (
    CONSUMER_BATCH,
    CONSUMER_DURATION,
    CONSUMER_EVENTS,
    CONSUMER_LAG,
    CONSUMER_STALLED,
)
from shared.mongo.ledger import ProcessedEvents
from shared.settings import Settings, Topics

Handler = Callable[[CloudEvent, EventPayload], Awaitable[None]]

# Errors of the infrastructure, not of the event: retried without limit, never dead-lettered.
INFRA_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    ServerSelectionTimeoutError,
    KafkaError,
    TimeoutError,
)

log = get_logger(__name__)


# How long the broker keeps a silent group member (aiokafka's default, made explicit).
SESSION_TIMEOUT_S = 10


class PoisonMessage(Exception):
    """The message can never be handled: not a CloudEvent, or a payload that fails its schema."""


def backoff_s(attempt: int, base: float, cap: float) -> float:
    """Capped exponential backoff with full jitter."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


@dataclass
class ConsumerRunner:
    settings: Settings
    service: str
    topics: list[str]
    handlers: Mapping[str, Handler]
    # None: the handlers record what they merged and dedup on their own.
    ledger: ProcessedEvents | None
    producer: EventProducer
    group_id: str | None = None
    # Awaited after a batch's records were handled, before its offsets are committed: for
    # handlers that gather a batch's effects and store them at once. Retried until it succeeds.
    flush: Callable[[], Awaitable[None]] | None = None
    _consumer: AIOKafkaConsumer | None = field(default=None, init=False)
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _stopping: bool = field(default=False, init=False)
    assigned: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    # Stall watch: when each partition's record in hand was taken up, the last lag seen per
    # partition, and when the runner last moved (a record handled, or nothing to do).
    _in_hand: dict[TopicPartition, float] = field(default_factory=dict, init=False)
    _lag: dict[TopicPartition, int] = field(default_factory=dict, init=False)
    _moved_at: float = field(default_factory=time.monotonic, init=False)

    def __post_init__(self) -> None:
        if self.flush is not None and self.ledger is not None:
            # The ledger marks each event done as it is handled, before the batch is flushed:
            # a crash in between would lose what the flush was to store.
            raise ValueError("a consumer with a flush dedups in its own writes: no ledger")

    @classmethod
    def batch_flush(
        cls,
        settings: Settings,
        service: str,
        topics: list[str],
        handlers: Mapping[str, Handler],
        producer: EventProducer,
        flush: Callable[[], Awaitable[None]],
    ) -> ConsumerRunner:
        """The batch-flush kind of consumer: its handlers gather a batch's effects, `flush`
        stores them at once before the batch's offsets are committed, and what it stores
        records the event ids merged (no ledger)."""
        return cls(settings, service, topics, handlers, None, producer, flush=flush)

    async def start(self) -> None:
        s = self.settings
        self._consumer = AIOKafkaConsumer(
            *self.topics,
            **client_options(s),
            group_id=self.group_id or s.consumer_group(self.service),
            enable_auto_commit=False,
            auto_offset_reset=s.consumer_offset_reset,
            request_timeout_ms=int(s.kafka_timeout_s * 1000) + 30_000,
            max_poll_records=s.consumer_batch_size,
            session_timeout_ms=SESSION_TIMEOUT_S * 1000,
        )
        # A replica restarted after a crash joins a group that still counts its dead
        # predecessor until the session times out: wait that long, not just a request's time.
        await asyncio.wait_for(self._consumer.start(), s.kafka_timeout_s + SESSION_TIMEOUT_S + 5)
        self._moved_at = time.monotonic()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-consumer")
        for topic in self.topics:  # read at each scrape, even while the loop is stuck
            CONSUMER_STALLED.labels(self.service, topic).set_function(
                lambda t=topic: float(t in self.stalled())  # type: ignore[misc]
            )

    def stalled(self, after_s: float | None = None) -> list[str]:
        """Topics on which the consumer makes no progress while it has work: a record in hand
        for longer than `after_s` (default `consumer_stall_after_s`: a handler that blocks, a
        dependency that stays down), or lag with nothing handled for as long. Empty when all
        is well."""
        if self._consumer is None or self._stopping:
            return []
        now = time.monotonic()
        limit = self.settings.consumer_stall_after_s if after_s is None else after_s
        if self._task is not None and self._task.done():
            return list(self.topics)  # the loop itself died
        stuck = {tp.topic for tp, since in self._in_hand.items() if now - since > limit}
        if now - self._moved_at > limit:
            stuck |= {tp.topic for tp, lag in self._lag.items() if lag > 0}
        return sorted(stuck)

    async def stop(self, drain_timeout_s: float = 15.0) -> None:
        """Finishes the batch in hand, commits it, then leaves the group."""
        self._stopping = True
        if self._task is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self._task), drain_timeout_s)
            except TimeoutError:
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            try:
                await asyncio.wait_for(self._consumer.stop(), self.settings.kafka_timeout_s)
            except (TimeoutError, KafkaError):
                log.warning("consumer_stop_timeout", service=self.service)

    async def caught_up(self) -> bool:
        """Every record on the assigned partitions so far is handled and its offset committed
        (for consumers without a ledger to ask)."""
        consumer = self._consumer
        if consumer is None or not consumer.assignment():
            return False
        partitions = list(consumer.assignment())
        ends = await consumer.end_offsets(partitions)
        for tp in partitions:
            if (await consumer.committed(tp) or 0) < ends[tp]:
                return False
        return True

    async def _run(self) -> None:
        assert self._consumer is not None
        consumer = self._consumer
        while not self._stopping:
            try:
                batch = await consumer.getmany(
                    timeout_ms=200, max_records=self.settings.consumer_batch_size
                )
            except KafkaError as exc:
                log.warning("consumer_fetch_failed", error=str(exc))
                await asyncio.sleep(1)
                continue
            if consumer.assignment():
                self.assigned.set()
            if not batch:
                await self._record_lag()
                if not any(self._lag.values()):
                    self._moved_at = time.monotonic()
                continue
            # Partitions are handled side by side, each in its own order (as replicas would).
            done = await asyncio.gather(*(self._handle_partition(r) for r in batch.values()))
            offsets = {tp: n for tp, (n, _) in zip(batch, done, strict=True) if n is not None}
            handled = sum(count for _, count in done)
            if offsets and await self._flushed():
                await self._commit(offsets)
            CONSUMER_BATCH.labels(self.service).observe(handled)
            await self._record_lag()

    async def _handle_partition(
        self, records: list[ConsumerRecord[bytes, bytes]]
    ) -> tuple[int | None, int]:
        """Handles one partition's records in order: the offset to commit, and how many."""
        next_offset: int | None = None
        count = 0
        for record in records:
            tp = TopicPartition(record.topic, record.partition)
            self._in_hand[tp] = time.monotonic()
            try:
                if not await self._handle(record):
                    break  # stopping in the middle of an outage: this record comes again
            finally:
                self._in_hand.pop(tp, None)
            self._moved_at = time.monotonic()
            next_offset = record.offset + 1
            count += 1
        return next_offset, count

    async def _flushed(self) -> bool:
        """True once `flush` succeeded; False when stopping after it failed (the batch's
        offsets stay uncommitted and its records come again). What the batch gathered is kept
        for the next call."""
        return self.flush is None or await self._retried(self.flush, "consumer_flush_failed")

    async def _retried(self, step: Callable[[], Awaitable[None]], failure: str) -> bool:
        """Runs `step` until it succeeds (True), backing off between tries; False when the
        runner is stopping after a failure."""
        attempt = 0
        while True:
            try:
                await step()
                return True
            except Exception as exc:
                if self._stopping:
                    return False
                attempt += 1
                log.warning(failure, error=repr(exc), attempt=attempt)
                await asyncio.sleep(
                    backoff_s(attempt, 0.5, max(1.0, self.settings.consumer_retry_max_s))
                )

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        assert self._consumer is not None
        attempt = 0
        while True:
            try:
                await asyncio.wait_for(
                    self._consumer.commit(offsets), self.settings.kafka_timeout_s
                )
                return
            except (KafkaError, TimeoutError) as exc:
                attempt += 1
                # The group may have rebalanced away: the next owner re-reads and dedups.
                if self._stopping or attempt >= self.settings.consumer_max_attempts:
                    log.warning("consumer_commit_failed", error=str(exc))
                    return
                await asyncio.sleep(backoff_s(attempt, 0.2, 2.0))

    async def _record_lag(self) -> None:
        assert self._consumer is not None
        for tp in self._consumer.assignment():
            highwater = self._consumer.highwater(tp)
            if highwater is None:
                continue
            try:
                position = await self._consumer.position(tp)
            except KafkaError:
                continue
            self._lag[tp] = max(0, highwater - position)
            CONSUMER_LAG.labels(self.service, tp.topic, str(tp.partition)).set(self._lag[tp])

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> bool:
        """Handles one record; False only when stopping before it could be handled. Handler
        errors are dead-lettered inside; what escapes is the ledger or the dead-letter producer
        failing: the record is retried, never skipped."""
        return await self._retried(lambda: self._handle_once(record), "consumer_dependency_down")

    async def _handle_once(self, record: ConsumerRecord[bytes, bytes]) -> None:
        topic = record.topic
        try:
            event = CloudEvent.from_bytes(record.value or b"")
        except ValidationError as exc:
            await self._dead_letter(record, PoisonMessage(f"not a CloudEvent: {exc}"), 0, "?")
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            CONSUMER_EVENTS.labels(self.service, topic, event.type, "ignored").inc()
            return
        with log_context(
            event_id=event.id,
            correlation_id=event.correlationid,
            need_id=event.data.get("need_id"),
            event_type=event.type,
        ):
            if self.ledger is not None and not await self.ledger.begin(event.id):
                CONSUMER_EVENTS.labels(self.service, topic, event.type, "duplicate").inc()
                return
            try:
                payload = payload_of(event)
            except (ValidationError, UnknownEventType) as exc:
                await self._dead_letter(record, PoisonMessage(str(exc)), 0, event.type)
                return
            started = time.perf_counter()
            attempt = 0
            while True:
                attempt += 1
                try:
                    await handler(event, payload)
                    break
                except INFRA_ERRORS:
                    raise
                except Exception as exc:
                    if attempt >= self.settings.consumer_max_attempts:
                        log.error("handler_failed", error=repr(exc), attempts=attempt)
                        await self._dead_letter(record, exc, attempt, event.type)
                        return
                    CONSUMER_EVENTS.labels(self.service, topic, event.type, "retried").inc()
                    log.warning("handler_retry", error=repr(exc), attempt=attempt)
                    await asyncio.sleep(
                        backoff_s(
                            attempt,
                            self.settings.consumer_retry_base_s,
                            self.settings.consumer_retry_max_s,
                        )
                    )
            if self.ledger is not None:
                await self.ledger.mark(event.id, event.type)
            CONSUMER_DURATION.labels(self.service, event.type).observe(
                time.perf_counter() - started
            )
            CONSUMER_EVENTS.labels(self.service, topic, event.type, "handled").inc()
            log.debug("event_handled")

    async def _dead_letter(
        self, record: ConsumerRecord[bytes, bytes], exc: BaseException, attempts: int, etype: str
    ) -> None:
        headers: Headers = [(k, v) for k, v in (record.headers or [])]
        headers += dead_letter_headers(
            f"{type(exc).__name__}: {exc}",
            type(exc).__name__,
            attempts,
            original_topic=record.topic,
            original_partition=str(record.partition),
            original_offset=str(record.offset),
            consumer_group=self.group_id or self.settings.consumer_group(self.service),
        )
        await self.producer.send_raw(
            Topics.dlq(record.topic), [(record.key, record.value or b"", headers)]
        )
        CONSUMER_EVENTS.labels(self.service, record.topic, etype, "dead_lettered").inc()
        log.error("event_dead_lettered", error=str(exc), topic=record.topic, offset=record.offset)
