"""The event producer: acks=all, idempotent, and every call bounded by a timeout.

A send that times out is never cancelled and sent again: its records stay in the producer's
own idempotent session (which retries them with their sequence numbers, so the broker keeps
one copy), and a later `publish` of the same event waits for that delivery instead of sending
a second copy. Events delivered recently are remembered by id, so a relay that must publish
them again (its marker delete failed) does not send them twice.

A session the broker has given up on (after a broker restart: `OutOfOrderSequenceNumber`,
a fenced or unknown producer id) fails every later send too, so the producer is replaced by
a new one with a new session; the relay's tail check keeps what had reached the topic from
being sent twice.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from functools import partial

from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    OutOfOrderSequenceNumber,
    ProducerFenced,
)
from aiokafka.structs import RecordMetadata

from shared.events.envelope import CONTENT_TYPE, CloudEvent
from shared.kafka.connection import client_options
from shared.logging import get_logger
from shared.metrics import PRODUCER_SESSIONS_RENEWED as SESSIONS_RENEWED
from shared.settings import Settings

log = get_logger(__name__)
Headers = list[tuple[str, bytes]]
Delivery = asyncio.Future[RecordMetadata]

# Ids of events delivered by this producer that a repeated publish skips.
REMEMBERED_DELIVERIES = 100_000
# Errors after which the producer's idempotent session is of no further use.
SESSION_LOST = (
    OutOfOrderSequenceNumber,
    InvalidProducerEpoch,
    InvalidProducerIdMapping,
    ProducerFenced,
)


class EventProducer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._timeout = settings.kafka_timeout_s
        self._producer: AIOKafkaProducer | None = None
        self._in_flight: dict[str, Delivery] = {}
        self._delivered: OrderedDict[str, None] = OrderedDict()

    async def start(self) -> None:
        self._producer = await self._new()

    async def _new(self) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **client_options(self._settings),
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            request_timeout_ms=int(self._timeout * 1000),
        )
        # aiokafka can hang forever on a dead broker with idempotence on (aio-libs/aiokafka#1101)
        try:
            await asyncio.wait_for(producer.start(), self._timeout)
        except BaseException:
            await self._stop(producer)
            raise
        return producer

    async def _renew(self, lost: AIOKafkaProducer) -> None:
        """A new producer (and session) in place of `lost`, unless another call did it."""
        if self._producer is not lost:
            return
        SESSIONS_RENEWED.inc()
        self._producer = None
        await self._stop(lost)
        self._producer = await self._new()

    async def stop(self) -> None:
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await self._stop(producer)

    async def _stop(self, producer: AIOKafkaProducer) -> None:
        try:
            await asyncio.wait_for(producer.stop(), self._timeout)
        except (TimeoutError, Exception):
            pass  # a broker that is gone cannot be flushed to; the outbox keeps what matters

    @property
    def started(self) -> bool:
        return self._producer is not None

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None:
        """Sends the events (keyed by subject) and waits until the broker has them all.

        An event already delivered is skipped; one still in flight from an earlier call is
        waited for, not sent again; one whose delivery failed is sent anew."""
        producer = self._started()
        deliveries: list[Delivery] = []
        for event in events:
            if event.id in self._delivered:
                continue
            delivery = self._in_flight.get(event.id)
            if delivery is None:
                delivery = await self._send(
                    producer,
                    topic,
                    event.subject.encode(),
                    event.to_bytes(),
                    [("content-type", CONTENT_TYPE.encode())],
                )
                self._in_flight[event.id] = delivery
                delivery.add_done_callback(partial(self._settle, event.id))
            deliveries.append(delivery)
        try:
            await self._await_all(deliveries)
        except SESSION_LOST as exc:
            log.warning("producer_session_lost", error=repr(exc), topic=topic)
            await self._renew(producer)
            raise

    def _settle(self, event_id: str, delivery: Delivery) -> None:
        if self._in_flight.get(event_id) is delivery:
            del self._in_flight[event_id]
        if not delivery.cancelled() and delivery.exception() is None:
            self._delivered[event_id] = None
            while len(self._delivered) > REMEMBERED_DELIVERIES:
                self._delivered.popitem(last=False)

    async def _await_all(self, deliveries: Sequence[Delivery]) -> None:
        """Waits for every delivery without cancelling any (asyncio.wait, not wait_for)."""
        if not deliveries:
            return
        _, pending = await asyncio.wait(deliveries, timeout=self._timeout)
        if pending:
            raise TimeoutError(f"{len(pending)} records still in flight; kept, not sent again")
        for delivery in deliveries:
            delivery.result()  # raises the first failure; a failed event is sent anew next time

    async def send_raw(
        self, topic: str, messages: Sequence[tuple[bytes | None, bytes, Headers]]
    ) -> None:
        producer = self._started()
        deliveries = [
            await self._send(producer, topic, key, value, headers)
            for key, value, headers in messages
        ]
        await self._await_all(deliveries)

    async def _send(
        self,
        producer: AIOKafkaProducer,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: Headers,
    ) -> Delivery:
        """Queues one record (bounded: the wait for metadata or buffer space) and returns its
        delivery, which is never cancelled."""
        delivery: Delivery | None = await asyncio.wait_for(
            producer.send(topic, value=value, key=key, headers=headers), self._timeout
        )
        if delivery is None:
            raise RuntimeError(f"the producer queued no record for {topic}")
        return delivery

    def _started(self) -> AIOKafkaProducer:
        if self._producer is None:
            raise RuntimeError("producer is not started")
        return self._producer

    async def partitions(self, topic: str) -> list[int]:
        """The partitions of `topic` this producer spreads its keys over."""
        return sorted(await asyncio.wait_for(self._started().partitions_for(topic), self._timeout))

    async def ping(self, timeout_s: float = 2.0) -> None:
        """Raises unless the broker answers a metadata request in time."""
        await asyncio.wait_for(self._started().client.fetch_all_metadata(), timeout_s)
