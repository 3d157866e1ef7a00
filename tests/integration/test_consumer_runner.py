"""The one consumer runner against the real broker: dead letters, retries, dedup."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from shared.events.envelope import CloudEvent, EventPayload
from shared.events.volunteers import OrgUnitUpdated
from shared.kafka.consumer import ConsumerRunner, Handler
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.mongo.client import Database, create_client
from shared.mongo.ledger import ProcessedEvents
from shared.settings import Settings
from tests.helpers import eventually, org_event, read_topic


@asynccontextmanager
async def consuming(
    settings: Settings,
    handlers: dict[str, Handler],
    flush: Callable[[], Awaitable[None]] | None = None,
) -> AsyncIterator[tuple[EventProducer, Database]]:
    """A runner of the volunteers topic, assigned its partitions; stopped on the way out."""
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
        # A runner with a flush dedups in what it stores; the others use the ledger.
        None if flush else ProcessedEvents(db),
        producer,
        flush=flush,
    )
    try:
        await runner.start()
        await asyncio.wait_for(runner.assigned.wait(), 30)
        yield producer, db
    finally:
        await runner.stop()
        await producer.stop()
        await mongo.close()


async def test_poison_message_goes_to_dlq_with_its_error_and_does_not_block(
    settings: Settings,
) -> None:
    seen: list[str] = []

    async def handle(event: CloudEvent, payload: EventPayload) -> None:
        seen.append(event.id)

    async with consuming(settings, {OrgUnitUpdated.type: handle}) as (producer, _):
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


async def test_handler_that_keeps_failing_is_retried_then_dead_lettered(
    settings: Settings,
) -> None:
    attempts: list[int] = []

    async def broken(event: CloudEvent, payload: EventPayload) -> None:
        attempts.append(1)
        raise ValueError("handler bug")

    async with consuming(settings, {OrgUnitUpdated.type: broken}) as (producer, _):
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


async def test_same_event_delivered_twice_changes_nothing_the_second_time(
    settings: Settings,
) -> None:
    async def count(event: CloudEvent, payload: EventPayload) -> None:
        await db["counts"].update_one({"_id": "n"}, {"$inc": {"value": 1}}, upsert=True)

    async with consuming(settings, {OrgUnitUpdated.type: count}) as (producer, db):
        event = org_event("p.q.r")
        marker = org_event("p.q.r")
        await producer.publish(settings.topics.volunteers, [event, event, event, marker])

        async def handled() -> bool:
            return await db["processed_events"].find_one({"_id": marker.id}) is not None

        await eventually(handled)
        doc = await db["counts"].find_one({"_id": "n"})
        assert doc is not None and doc["value"] == 2  # `event` once, `marker` once


async def test_a_failing_flush_is_retried_and_what_the_batch_gathered_is_stored_once(
    settings: Settings,
) -> None:
    gathered: list[str] = []
    stored: list[str] = []
    calls: list[int] = []

    async def gather(event: CloudEvent, payload: EventPayload) -> None:
        gathered.append(event.id)

    async def flush() -> None:
        calls.append(1)
        if len(calls) <= 2:
            raise ConnectionError("store down")
        stored.extend(gathered)
        gathered.clear()

    async with consuming(settings, {OrgUnitUpdated.type: gather}, flush) as (producer, _):
        events = [org_event("f.l.u"), org_event("f.l.u"), org_event("f.l.u")]
        await producer.publish(settings.topics.volunteers, events)
        await eventually(lambda: asyncio.sleep(0, result=len(stored) == 3), timeout=20)
        assert sorted(stored) == sorted(e.id for e in events)
        assert len(calls) >= 3


async def test_a_runner_stopped_while_its_flush_fails_commits_nothing_so_the_batch_comes_again(
    settings: Settings,
) -> None:
    first: list[str] = []

    async def never(event: CloudEvent, payload: EventPayload) -> None:
        first.append(event.id)

    async def failing() -> None:
        raise ConnectionError("store down")

    event = org_event("s.t.o")
    async with consuming(settings, {OrgUnitUpdated.type: never}, failing) as (producer, _):
        await producer.publish(settings.topics.volunteers, [event])
        await eventually(lambda: asyncio.sleep(0, result=event.id in first))

    again: list[str] = []

    async def keep(event: CloudEvent, payload: EventPayload) -> None:
        again.append(event.id)

    # A new runner of the same group: the offset was never committed.
    async with consuming(settings, {OrgUnitUpdated.type: keep}) as (producer, _):
        await eventually(lambda: asyncio.sleep(0, result=event.id in again), timeout=30)


async def test_a_runner_takes_a_flush_or_a_ledger_not_both(settings: Settings) -> None:
    async def flush() -> None:
        return None

    mongo = create_client(settings)
    try:
        with pytest.raises(ValueError, match="no ledger"):
            ConsumerRunner(
                settings,
                "runnertest",
                [settings.topics.volunteers],
                {},
                ProcessedEvents(mongo[settings.database_name("runnertest")]),
                EventProducer(settings),
                flush=flush,
            )
    finally:
        await mongo.close()
