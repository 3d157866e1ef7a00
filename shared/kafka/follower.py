"""A service follows its own stream in every replica, to keep what it holds in memory current.

Not a consumer group: each replica reads every partition (no offsets committed, nothing
dead-lettered), from the end as it was before the replica loaded its state from MongoDB, so
that no change made by another replica after that load is missed. What a replica wrote itself
it has applied already; its events come back and are applied again, which must be harmless.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaConsumer
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

    async def start(self) -> None:
        """Takes up the stream at its present end (call before loading the state)."""
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
            await consumer.seek_to_end()
            for tp in consumer.assignment():  # fixes the end now: events from here on are read
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer

    @staticmethod
    async def _assigned(consumer: AIOKafkaConsumer) -> None:
        # aiokafka signals no assignment without a group: poll it (it takes one metadata fetch).
        while not consumer.assignment():  # noqa: ASYNC110
            await asyncio.sleep(0.05)

    async def run(self) -> None:
        """Applies each event; retries what fails on the infrastructure, skips the rest."""
        consumer = self._consumer
        assert consumer is not None, "start() first"
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=1000)
                for records in batches.values():
                    for record in records:
                        await self._apply(record.value)
        finally:
            await consumer.stop()

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
