"""The relay on the real FerretDB and Kafka: the common path and a writer that died mid-way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from shared.events.envelope import CloudEvent
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.mongo.client import Database, create_client
from shared.mongo.outbox import WRITER_GRACE, Outbox, Relay
from shared.mongo.store import AggregateStore, ConcurrencyConflict, NewCommit
from shared.settings import Settings
from tests.helpers import events_of, org_event, read_topic


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    client = create_client(settings)
    yield client[settings.database_name("storetest")]
    await client.close()


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[EventProducer]:
    await ensure_topics(settings)
    producer = EventProducer(settings)
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
def relay(db: Database, producer: EventProducer) -> Relay:
    return Relay(db, producer, "storetest")


@pytest.fixture
def store(db: Database) -> AggregateStore:
    return AggregateStore(db, "things")


@pytest.fixture
def topic(settings: Settings) -> str:
    return settings.topics.volunteers


async def published(settings: Settings, topic: str, count: int) -> list[str]:
    """The ids of the events on `topic`, in the order read."""
    return [e.id for e in events_of(await read_topic(settings, topic, expect=count))]


async def die_after_commit(
    store: AggregateStore, aggregate: str, version: int, topic: str, e: CloudEvent
) -> None:
    """A writer that stores its commit and dies before its head and the `stored` mark."""

    async def crash(*_: object) -> None:
        raise ConnectionError("killed")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "write_head", crash)
        with pytest.raises(ConnectionError):
            await store.commit(aggregate, version, {"v": version + 1}, [(topic, e)])


async def age_markers(db: Database) -> None:
    """Moves every marker back past the writers' grace, as time would."""
    async for marker in db["outbox"].find({}):
        older = marker["created_at"] - WRITER_GRACE - timedelta(seconds=1)
        await db["outbox"].update_one({"_id": marker["_id"]}, {"$set": {"created_at": older}})


async def test_stored_commits_are_published_from_their_markers_and_the_outbox_empties(
    settings: Settings, db: Database, relay: Relay, store: AggregateStore, topic: str
) -> None:
    first, second = org_event("a.b.c"), org_event("a.b.c")
    await store.commit("t1", 0, {"v": 1}, [(topic, first)])
    await store.commit("t1", 1, {"v": 2}, [(topic, second)])
    markers = await db["outbox"].find({}).to_list()
    assert len(markers) == 2 and await store.outbox.stored(markers) == {m["_id"] for m in markers}
    assert await relay.publish_pending() == 2
    assert await db["outbox"].count_documents({}) == 0
    assert await published(settings, topic, 2) == [first.id, second.id]


async def test_a_writer_that_died_after_its_commit_is_published_after_the_grace_and_its_head_healed(
    settings: Settings, db: Database, relay: Relay, store: AggregateStore, topic: str
) -> None:
    first, lost = org_event("a.b.c"), org_event("a.b.c")
    await store.commit("t2", 0, {"v": 1}, [(topic, first)])
    await relay.publish_pending()
    await die_after_commit(store, "t2", 1, topic, lost)
    assert await store.load("t2") == ({"v": 1}, 1)  # the head lags behind the commit

    assert await relay.publish_pending() == 0  # its writer may still be at work
    await age_markers(db)
    assert await relay.publish_pending() == 1
    assert await store.load("t2") == ({"v": 2}, 2)
    assert await published(settings, topic, 2) == [first.id, lost.id]


async def test_an_aggregate_keeps_its_order_behind_a_commit_not_yet_marked_stored(
    settings: Settings, db: Database, relay: Relay, store: AggregateStore, topic: str
) -> None:
    start, early, late = org_event("a.b.c"), org_event("a.b.c"), org_event("a.b.c")
    elsewhere = org_event("x.y.z")
    await store.commit("t3", 0, {"v": 1}, [(topic, start)])
    assert await relay.publish_pending() == 1
    await die_after_commit(store, "t3", 1, topic, early)  # version 2: stored, never marked
    await store.commit("t3", 2, {"v": 3}, [(topic, late)])  # version 3: marked stored
    await store.commit("other", 0, {"v": 1}, [(topic, elsewhere)])

    assert await relay.publish_pending() == 1  # only the other aggregate's event
    await age_markers(db)
    assert await relay.publish_pending() == 2
    ids = await published(settings, topic, 4)
    assert elsewhere.id in ids  # maybe on another partition: its place among the others is free
    assert [i for i in ids if i != elsewhere.id] == [start.id, early.id, late.id]


async def test_a_stored_commit_wakes_the_relay_and_a_lost_one_does_not(
    db: Database, store: AggregateStore, topic: str
) -> None:
    woken: list[str] = []
    Outbox.of(db).listen(lambda: woken.append("woken"))
    await store.commit("t4", 0, {"v": 1}, [(topic, org_event("a.b.c"))])
    assert woken == ["woken"]
    with pytest.raises(ConcurrencyConflict):
        await store.commit("t4", 0, {"v": 1}, [(topic, org_event("a.b.c"))])
    assert woken == ["woken"]
    assert await db["outbox"].count_documents({}) == 1  # the loser's marker is gone


READS = ("find", "count", "aggregate", "distinct", "watch")


class Counted:
    """A collection that records which of its methods are called (then does them)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.calls.append(name)
        return getattr(self.inner, name)


async def test_a_stored_marker_is_published_from_memory_without_reading_the_outbox(
    settings: Settings, db: Database, producer: EventProducer, store: AggregateStore, topic: str
) -> None:
    relay = Relay(db, producer, "storetest", scan_every_s=3600)
    assert await relay.publish_pending() == 0  # the start-up scan
    outbox = Outbox.of(db)
    markers, marks = Counted(outbox.markers), Counted(outbox._stored)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(outbox, "markers", markers)
        patch.setattr(outbox, "_stored", marks)
        first, second = org_event("a.b.c"), org_event("a.b.c")
        await store.commit("t5", 0, {"v": 1}, [(topic, first)])
        await store.commit("t5", 1, {"v": 2}, [(topic, second)])
        await store.commit("t5", 2, {"v": 3})  # no events: nothing to publish
        assert await relay.publish_pending() == 2
    # written (the markers, their marks) and deleted, never read
    for calls in (markers.calls, marks.calls):
        assert "insert_many" in calls and not [c for c in calls if c.startswith(READS)], calls
    assert await db["outbox"].count_documents({}) == 0
    assert await db["outbox_stored"].count_documents({}) == 0
    assert await published(settings, topic, 2) == [first.id, second.id]


async def test_a_marker_whose_earlier_commit_another_process_wrote_waits_for_the_scan(
    settings: Settings, db: Database, producer: EventProducer, store: AggregateStore, topic: str
) -> None:
    """Another replica's commit is not in this relay's memory: the later commit of the same
    aggregate stored here is not sent ahead of it, but by the scan, after it."""
    other = create_client(settings)  # another process: its own outbox in memory
    relay = Relay(db, producer, "storetest", scan_every_s=3600)
    try:
        assert await relay.publish_pending() == 0  # the start-up scan
        theirs, ours = org_event("a.b.c"), org_event("a.b.c")
        elsewhere = AggregateStore(other[settings.database_name("storetest")], "things")
        await elsewhere.commit("t6", 0, {"v": 1}, [(topic, theirs)])
        await store.commit("t6", 1, {"v": 2}, [(topic, ours)])
        assert await relay.publish_pending() == 0  # no scan due: ours waits
        relay._scan_at = 0.0  # the scan comes due
        assert await relay.publish_pending() == 2
        assert await published(settings, topic, 2) == [theirs.id, ours.id]
    finally:
        await other.close()


async def test_of_two_writers_of_one_version_only_the_winners_events_are_published(
    settings: Settings, db: Database, relay: Relay, store: AggregateStore, topic: str
) -> None:
    """Racing writers of one version share its commit id, each with its own marker: the one
    handed to the relay in memory is the winner's."""
    won, lost = org_event("a.b.c"), org_event("a.b.c")
    commits = [
        NewCommit("t7", 0, {"v": 1}, [(topic, won)]),
        NewCommit("t7", 0, {"v": 9}, [(topic, lost)]),
    ]
    assert await store.commit_many(commits) == [True, False]
    assert await relay.publish_pending() == 1
    await age_markers(db)
    assert await relay.publish_pending() == 0  # nothing left behind to heal
    assert await published(settings, topic, 1) == [won.id]
