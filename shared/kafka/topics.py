"""Creates the streams and their dead-letter twins idempotently."""

from __future__ import annotations

import asyncio

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from shared.kafka.connection import client_options
from shared.settings import Settings


async def ensure_topics(settings: Settings, topics: list[str] | None = None) -> None:
    admin = AIOKafkaAdminClient(
        **client_options(settings),
        request_timeout_ms=int(settings.kafka_timeout_s * 1000),
    )
    await asyncio.wait_for(admin.start(), settings.kafka_timeout_s)
    try:
        wanted = topics or settings.topics.all
        existing = set(await admin.list_topics())
        missing = [t for t in wanted if t not in existing]
        if missing:
            try:
                await admin.create_topics(
                    [NewTopic(t, settings.topic_partitions, 1) for t in missing],
                    timeout_ms=int(settings.kafka_timeout_s * 1000),
                )
            except TopicAlreadyExistsError:
                pass  # another service created them between our list and create
    finally:
        await admin.close()


async def delete_topics(settings: Settings, topics: list[str]) -> None:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await asyncio.wait_for(admin.start(), settings.kafka_timeout_s)
    try:
        await admin.delete_topics(topics, timeout_ms=int(settings.kafka_timeout_s * 1000))
    finally:
        await admin.close()
