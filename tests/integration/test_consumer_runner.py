"""The one consumer runner against the real broker: dead letters, retries, dedup."""

from __future__ import annotations

import asyncio

from shared.events.envelope import CloudEvent, EventPayload
from shared.events.volunteers import OrgUnitUpdated
from shared.kafka.consumer import ConsumerRunner, Handler
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.mongo.client import create_client
from shared.mongo.ledger import ProcessedEvents
from shared.settings import Settings
from tests.helpers import eventually, org_event, read_topic


async def run_consumer(settings: Settings, handlers: dict[str, Handler]):  # type: ignore[no-untyped-def]
    await ensure_topics(settings)
    producer = EventProducer(settings)
    await producer.start()
    mongo = create_client(settings)
    db = mongo[settings.database_name("runnertest")]
    runner = ConsumerRunner(
        settings,
        "runnertest",
        [settings.topics.volunteers],
        handlers,
        ProcessedEvents(db),
        producer,
    )
    await runner.start()
    await asyncio.wait_for(runner.assigned.wait(), 30)
    return producer, mongo, db, runner


async def test_poison_message_goes_to_dlq_with_its_error_and_does_not_block(
    settings: Settings,
) -> None:
    seen: list[str] = []

    async def handle(event: CloudEvent, payload: EventPayload) -> None:
        seen.append(event.id)

    producer, mongo, _, runner = await run_consumer(settings, {OrgUnitUpdated.type: handle})
    try:
        good = org_event("a.b.c")
        topic = settings.topics.volunteers
        # same key: same partition, the poison message first
        await producer.send_raw(topic, [(b"a.b.c", b"{not json", [])])
        await producer.publish(topic, [good])
        await eventually(lambda: asyncio.sleep(0, result=good.id in seen))
        dlq = await read_topic(settings, settings.topics.dlq(topic), expect=1)
        assert len(dlq) == 1
        assert dlq[0].value == b"{not json"
        headers = dict(dlq[0].headers)
        assert b"not a CloudEvent" in headers["tongxin-error"]
        assert headers["tongxin-original-topic"] == topic.encode()
    finally:
        await runner.stop()
        await producer.stop()
        await mongo.close()


async def test_handler_that_keeps_failing_is_retried_then_dead_lettered(
    settings: Settings,
) -> None:
    attempts: list[int] = []

    async def broken(event: CloudEvent, payload: EventPayload) -> None:
        attempts.append(1)
        raise ValueError("handler bug")

    producer, mongo, _, runner = await run_consumer(settings, {OrgUnitUpdated.type: broken})
    try:
        bad = org_event("x.y.z")
        await producer.publish(settings.topics.volunteers, [bad])
        dlq = await read_topic(
            settings, settings.topics.dlq(settings.topics.volunteers), expect=1, timeout=20
        )
        assert len(dlq) == 1
        headers = dict(dlq[0].headers)
        assert headers["tongxin-attempts"] == str(settings.consumer_max_attempts).encode()
        assert b"ValueError: handler bug" in headers["tongxin-error"]
        assert len(attempts) == settings.consumer_max_attempts
    finally:
        await runner.stop()
        await producer.stop()
        await mongo.close()


async def test_same_event_delivered_twice_changes_nothing_the_second_time(
    settings: Settings,
) -> None:
    async def count(event: CloudEvent, payload: EventPayload) -> None:
        await db["counts"].update_one({"_id": "n"}, {"$inc": {"value": 1}}, upsert=True)

    producer, mongo, db, runner = await run_consumer(settings, {OrgUnitUpdated.type: count})
    try:
        event = org_event("p.q.r")
        marker = org_event("p.q.r")
        await producer.publish(settings.topics.volunteers, [event, event, event, marker])

        async def handled() -> bool:
            return await db["processed_events"].find_one({"_id": marker.id}) is not None

        await eventually(handled)
        doc = await db["counts"].find_one({"_id": "n"})
        assert doc is not None and doc["value"] == 2  # `event` once, `marker` once
    finally:
        await runner.stop()
        await producer.stop()
        await mongo.close()
