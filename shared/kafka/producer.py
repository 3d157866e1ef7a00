"""The event producer: acks=all, idempotent, and every call bounded by a timeout."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from shared.events.envelope import CONTENT_TYPE, CloudEvent
from shared.settings import Settings

Headers = list[tuple[str, bytes]]


class EventProducer:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._timeout = settings.kafka_timeout_s
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap,
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
        self._producer = producer

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
        """Sends the events (keyed by subject) and waits until the broker has them all."""
        await self.send_raw(
            topic,
            [
                (e.subject.encode(), e.to_bytes(), [("content-type", CONTENT_TYPE.encode())])
                for e in events
            ],
        )

    async def send_raw(
        self, topic: str, messages: Sequence[tuple[bytes | None, bytes, Headers]]
    ) -> None:
        if self._producer is None:
            raise RuntimeError("producer is not started")
        futures = [
            await asyncio.wait_for(
                self._producer.send(topic, value=value, key=key, headers=headers), self._timeout
            )
            for key, value, headers in messages
        ]
        if futures:
            await asyncio.wait_for(asyncio.gather(*futures), self._timeout)

    async def ping(self, timeout_s: float = 2.0) -> None:
        """Raises unless the broker answers a metadata request in time."""
        if self._producer is None:
            raise RuntimeError("producer is not started")
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout_s)
