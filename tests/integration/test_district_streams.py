"""notify runs the district router when TONGXIN_DISTRICT_STREAMS is on (issue 19): the public
events of each district reach `<namespace>.d.<district>.v1`, and nothing else does. (Its
ACLs, crashes and hand-over: tests/integration/test_kafka_sasl.py.)"""

from __future__ import annotations

from aiokafka import AIOKafkaConsumer

from services.notify.app import create_app
from shared.events.envelope import CloudEvent
from shared.kafka.connection import client_options
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.settings import Settings
from tests.helpers import eventually, isolated_settings, org_event, running


async def _committed_ids(settings: Settings, topic: str) -> list[str]:
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=None,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    try:
        await consumer.start()
        batch = await consumer.getmany(timeout_ms=1000)
    finally:
        await consumer.stop()
    return [CloudEvent.from_bytes(r.value or b"").id for recs in batch.values() for r in recs]


async def test_notify_routes_each_districts_public_events_to_its_topic() -> None:
    settings = isolated_settings(district_streams=True, relay_lease_s=1.0)
    await ensure_topics(settings)
    producer = EventProducer(settings)
    await producer.start()
    events = [org_event(f"{d}.s.c{i}") for i, d in enumerate(["north", "south", "north"])]
    try:
        async with running(create_app(settings)):
            await producer.publish(settings.topics.volunteers, events[:2])
            await producer.publish(settings.topics.needs, events[2:])
            north, south = settings.topics.district("north"), settings.topics.district("south")

            want = {north: sorted([events[0].id, events[2].id]), south: [events[1].id]}

            async def routed() -> dict[str, list[str]] | None:
                got = {t: sorted(await _committed_ids(settings, t)) for t in want}
                return got if got == want else None

            await eventually(routed, timeout=60)
    finally:
        await producer.stop()
