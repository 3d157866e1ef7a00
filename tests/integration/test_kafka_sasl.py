"""Kafka as production runs it (issue 19): SASL/SCRAM users, ACLs from shared/kafka/acls.py,
each service writing its own stream only, subscribers read-only, no anonymous access; and
the district router filling per-district topics exactly once across a crash.

Long because each ACL rule (own stream, other streams, groups, subscribers, anonymous, the
router) is one test on one private broker.

One private broker (tests/sasl_broker.py) on ports of its own serves the whole module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any, TypeAlias

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import (
    ClusterAuthorizationFailedError,
    GroupAuthorizationFailedError,
    KafkaError,
    TopicAuthorizationFailedError,
)

from services.notify.handlers.district_router import DistrictRouter
from shared.events.envelope import CloudEvent
from shared.kafka.acls import PRODUCES, apply, setup, subscriber_acls
from shared.kafka.connection import client_options
from shared.kafka.consumer import ConsumerRunner
from shared.kafka.producer import EventProducer
from shared.mongo.client import create_client
from shared.mongo.lease import Lease
from shared.settings import Settings
from tests.helpers import org_event
from tests.sasl_broker import ADMIN, SaslBroker

# One broker for the module: its tests stay on one xdist worker (make test: --dist loadgroup).
pytestmark = pytest.mark.xdist_group("kafka_sasl")

Record: TypeAlias = ConsumerRecord[bytes, bytes]
STREAMS = ["needs", "volunteers", "notify", "identity"]


async def _start(broker: SaslBroker) -> None:
    await broker.start()
    admin = broker.settings(ADMIN)
    deadline = time.monotonic() + 60
    while True:  # the port opens before the broker has loaded its users
        try:
            await setup(admin)
            break
        except (KafkaError, TimeoutError, OSError):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)
    await apply(
        admin, subscriber_acls(admin, "portal", ["d1"]) + subscriber_acls(admin, "bank", [])
    )


@pytest.fixture(scope="module")
def broker() -> Iterator[SaslBroker]:
    b = SaslBroker()
    try:
        asyncio.run(_start(b))
        yield b
    finally:
        b.stop()


async def _producer(settings: Settings) -> EventProducer:
    producer = EventProducer(settings)
    await producer.start()
    return producer


async def _send(producer: EventProducer, topic: str, events: list[CloudEvent]) -> None:
    await producer.send_raw(topic, [(e.subject.encode(), e.to_bytes(), []) for e in events])


async def _read(
    settings: Settings,
    topic: str,
    *,
    expect: int,
    group: str | None = None,
    isolation: str = "read_committed",
    idle_s: float = 1.0,
) -> list[Record]:
    """Every record of `topic` from the start: `expect` of them, then `idle_s` more of quiet
    (so that a copy too many would be seen)."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(settings),
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        isolation_level=isolation,
    )
    records: list[Record] = []
    deadline, quiet_since = time.monotonic() + 30, None
    try:
        await consumer.start()
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if batch or len(records) < expect:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since > idle_s:
                break
    finally:
        await consumer.stop()
    return records


async def _drain(router: DistrictRouter, at_least: int) -> None:
    """Routes until `at_least` records were read and two batches in a row came back empty
    (the other tests' events are on the streams too)."""
    routed = empties = 0
    deadline = time.monotonic() + 30
    while routed < at_least or empties < 2:
        assert time.monotonic() < deadline, f"routed {routed} of at least {at_least}"
        n = await router.route_batch()
        routed, empties = routed + n, 0 if n else empties + 1


def _ids(records: list[Record]) -> list[str]:
    return [CloudEvent.from_bytes(r.value or b"").id for r in records]


async def test_each_service_writes_its_own_stream_and_no_other(broker: SaslBroker) -> None:
    for service, own in PRODUCES.items():
        settings = broker.settings(service)
        producer = await _producer(settings)
        try:
            for stream in STREAMS:
                topic = settings.topics.for_stream(stream)
                if stream in own:
                    await _send(producer, topic, [org_event(f"d9.{service}")])
                else:
                    with pytest.raises(TopicAuthorizationFailedError):
                        await _send(producer, topic, [org_event(f"d9.{service}")])
        finally:
            await producer.stop()
    admin = broker.settings(ADMIN)
    written = await _read(admin, admin.topics.needs, expect=1)
    communities = [CloudEvent.from_bytes(r.value or b"").community for r in written]
    assert [c for c in communities if c.startswith("d9.")] == ["d9.needs"]


async def test_a_consumer_reads_what_it_consumes_in_its_own_group_and_dead_letters(
    broker: SaslBroker,
) -> None:
    """The real consumer runner as identity: reads volunteers, commits in tongxin.<p>.identity,
    writes the event its handler refuses to volunteers' .dlq."""
    volunteers = await _producer(broker.settings("volunteers"))
    settings = broker.settings("identity", consumer_max_attempts=1)
    poison = org_event("d8.s.c")
    await _send(volunteers, settings.topics.volunteers, [org_event("d8.s.ok"), poison])
    await volunteers.stop()

    async def refuse(event: CloudEvent, payload: Any) -> None:
        if event.id == poison.id:
            raise ValueError("refused by the test")

    dead_letters = await _producer(settings)
    runner = ConsumerRunner(
        settings,
        "identity",
        [settings.topics.volunteers],
        {poison.type: refuse},
        None,
        dead_letters,
    )
    await runner.start()
    try:
        deadline = time.monotonic() + 30
        while not await runner.caught_up():
            assert time.monotonic() < deadline, "identity's consumer did not commit"
            await asyncio.sleep(0.2)
    finally:
        await runner.stop()
        await dead_letters.stop()
    admin = broker.settings(ADMIN)
    dlq = await _read(admin, admin.topics.dlq_of("volunteers"), expect=1)
    assert _ids(dlq) == [poison.id]

    # Another service's group and a stream it does not consume are refused.
    with pytest.raises(GroupAuthorizationFailedError):
        await _read(settings, settings.topics.volunteers, expect=1, group="x.needs", idle_s=0)
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(settings, settings.topics.needs, expect=1, idle_s=0)


async def test_a_subscriber_reads_but_cannot_write(broker: SaslBroker) -> None:
    bank = broker.settings("bank")
    needs = await _producer(broker.settings("needs"))
    event = org_event("d7.s.c")
    await _send(needs, bank.topics.needs, [event])
    await needs.stop()
    read = await _read(bank, bank.topics.needs, expect=1, group="bank.ledger")
    assert event.id in _ids(read)
    # Not even an idempotent producer session (no WRITE anywhere); a plain producer's records
    # are refused topic by topic.
    with pytest.raises(ClusterAuthorizationFailedError):
        await _producer(bank)
    producer = AIOKafkaProducer(**client_options(bank), request_timeout_ms=5000)
    await producer.start()
    try:
        for stream in STREAMS:
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(bank.topics.for_stream(stream), b"{}")
    finally:
        await producer.stop()
    with pytest.raises(GroupAuthorizationFailedError):  # groups of its own name only
        await _read(bank, bank.topics.needs, expect=1, group="tongxin.needs", idle_s=0)


async def test_a_client_without_credentials_or_with_a_wrong_password_is_refused(
    broker: SaslBroker,
) -> None:
    for settings in (broker.settings(None), broker.settings("needs", "not-the-password")):
        with pytest.raises((KafkaError, TimeoutError)):
            await _producer(settings.model_copy(update={"kafka_timeout_s": 3.0}))
    accepted = await _producer(broker.settings("needs"))  # the right password
    assert accepted.started
    await accepted.stop()


async def test_the_router_fills_each_district_topic_once_across_a_crash(
    broker: SaslBroker,
) -> None:
    """notify's router, as notify: d1, d2 and d3 events from two streams. The first router
    dies between sending a batch and committing it; the next one (fencing it) starts from
    the committed offsets. A read_committed reader of each district topic sees exactly that
    district's events, each once; the portal (d1's subscriber) reads d1 and not d2."""
    settings = broker.settings("notify", consumer_batch_size=10)
    volunteers = await _producer(broker.settings("volunteers"))
    events = [org_event(f"d{1 + i % 3}.s{i % 2}.c{i}") for i in range(45)]
    await _send(volunteers, settings.topics.volunteers, events[:30])

    first = DistrictRouter(settings)
    await first.open()
    await _drain(first, 30)

    # The crash: the next batch is sent, its commit never happens.
    at_commit = asyncio.Event()

    async def never(*_: Any) -> None:
        at_commit.set()
        await asyncio.Event().wait()

    assert first._producer is not None
    first._producer.commit_transaction = never
    await _send(volunteers, settings.topics.volunteers, events[30:])
    stuck = asyncio.create_task(first.route_batch())
    await asyncio.wait_for(at_commit.wait(), 20)
    await first._producer.flush()  # the dying batch's copies are on the district topics

    second = DistrictRouter(settings)
    await second.open()  # fences the first and aborts its open transaction
    try:
        await _drain(second, 15)
    finally:
        await second.close()
        stuck.cancel()
        await first.close()
        await volunteers.stop()

    admin = broker.settings(ADMIN)
    committed = aborted = 0
    for district in ("d1", "d2", "d3"):
        topic = admin.topics.district(district)
        want = [e.id for e in events if e.community.startswith(f"{district}.")]
        reader = broker.settings("portal") if district == "d1" else admin
        got = _ids(await _read(reader, topic, expect=len(want)))
        assert sorted(got) == sorted(want), district
        every = await _read(admin, topic, expect=len(want), isolation="read_uncommitted")
        committed, aborted = committed + len(got), aborted + len(every) - len(got)
    assert committed == 45 and aborted > 0  # the crash left copies, none of them counted
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(broker.settings("portal"), admin.topics.district("d2"), expect=1, idle_s=0)


async def test_one_router_runs_at_a_time_and_another_takes_over(broker: SaslBroker) -> None:
    """Two notify replicas run the router under the lease (TONGXIN_DISTRICT_STREAMS): one
    routes; when it stops, the other takes over from the committed offsets."""
    settings = broker.settings("notify", relay_lease_s=1.0)
    mongo = create_client(settings)
    db = mongo[settings.database_name("notify")]
    routers = [DistrictRouter(settings, Lease(db, "district-router", n)) for n in "ab"]
    tasks = [asyncio.create_task(r.run()) for r in routers]
    identity = await _producer(broker.settings("identity"))
    events = [org_event(f"d{4 + i % 2}.s.c{i}") for i in range(20)]
    admin = broker.settings(ADMIN)

    async def routed(district: str, want: list[CloudEvent]) -> None:
        ids = [e.id for e in want if e.community.startswith(f"{district}.")]
        got = _ids(await _read(admin, admin.topics.district(district), expect=len(ids)))
        assert sorted(got) == sorted(ids), district

    try:
        await _send(identity, settings.topics.identity, events[:10])
        await routed("d4", events[:10])
        active = [i for i, r in enumerate(routers) if r._consumer is not None]
        assert len(active) == 1
        tasks[active[0]].cancel()  # that replica stops (and gives the lease up)
        await asyncio.gather(tasks[active[0]], return_exceptions=True)
        await _send(identity, settings.topics.identity, events[10:])
        for district in ("d4", "d5"):
            await routed(district, events)
        assert routers[1 - active[0]]._consumer is not None
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await identity.stop()
        await mongo.close()
