"""A send that times out while the broker is frozen is not sent a second time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from shared.events.envelope import CloudEvent
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from tests.faults.cluster import PrivateCluster
from tests.helpers import isolated_settings, org_event, read_topic


@pytest.fixture
async def cluster() -> AsyncIterator[PrivateCluster]:
    c = PrivateCluster()
    try:
        await c.start()
        yield c
    finally:
        c.stop()


async def test_events_published_again_after_a_timeout_land_once(cluster: PrivateCluster) -> None:
    settings = isolated_settings(
        kafka_bootstrap=cluster.kafka_bootstrap, mongodb_url=cluster.mongodb_url, kafka_timeout_s=3
    )
    await ensure_topics(settings)
    topic = settings.topics.volunteers
    producer = EventProducer(settings)
    await producer.start()
    events: list[CloudEvent] = [org_event(f"d.s.c{i}") for i in range(20)]
    try:
        await producer.publish(topic, events[:5])
        cluster.kafka.pause()
        with pytest.raises(TimeoutError):
            await producer.publish(topic, events)  # queued, not delivered in time
        cluster.kafka.resume()
        # the relay's next pass: the same events again, and a delivered one once more
        await producer.publish(topic, events)
        await producer.publish(topic, events[:1])
    finally:
        cluster.kafka.resume()
        await producer.stop()
    ids = [CloudEvent.from_bytes(r.value or b"").id for r in await read_topic(settings, topic)]
    assert sorted(ids) == sorted(e.id for e in events)
