"""The event producer replaces a producer whose idempotent session the broker gave up on.

After a broker restart the broker may answer `OutOfOrderSequenceNumber` for a session it no
longer knows; every later send of that session fails too, so without a new producer the
relay would never publish again (seen in the faults suite: 47 failures in a row, 23
notifications never sent)."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.errors import KafkaTimeoutError, OutOfOrderSequenceNumber

from shared.events.envelope import CloudEvent
from shared.events.volunteers import OrgUnitUpdated
from shared.kafka import producer as producer_module
from shared.kafka.producer import EventProducer
from shared.settings import Settings


class StandIn:
    """An AIOKafkaProducer whose deliveries fail with `error` (None: succeed)."""

    made: list[StandIn] = []

    def __init__(self, **_: Any) -> None:
        self.error: BaseException | None = None
        self.stopped = False
        StandIn.made.append(self)

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self.stopped = True

    async def send(self, topic: str, **_: Any) -> asyncio.Future[object]:
        delivery: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        if self.error is not None:
            delivery.set_exception(self.error)
        else:
            delivery.set_result(object())
        return delivery


def event(n: int) -> CloudEvent:
    return CloudEvent.wrap(
        OrgUnitUpdated(
            path=f"d1/s1/c{n}",
            name=f"社区{n}",
            level="community",
            parent="d1/s1",
            updated_by="admin",
            updated_at=datetime(2026, 12, 2, tzinfo=UTC),
        )
    )


@pytest.fixture
def stand_in(monkeypatch: pytest.MonkeyPatch) -> type[StandIn]:
    StandIn.made = []
    monkeypatch.setattr(producer_module, "AIOKafkaProducer", StandIn)
    return StandIn


async def test_a_lost_session_gets_a_new_producer_and_the_next_publish_goes_through(
    stand_in: type[StandIn],
) -> None:
    producer = EventProducer(Settings())
    await producer.start()
    first = stand_in.made[0]
    first.error = OutOfOrderSequenceNumber()
    with pytest.raises(OutOfOrderSequenceNumber):
        await producer.publish("t", [event(1)])
    assert first.stopped and len(stand_in.made) == 2  # replaced by a new session
    await producer.publish("t", [event(1)])  # sent anew on the new one
    assert not stand_in.made[1].stopped


async def test_an_error_the_session_survives_keeps_the_producer(stand_in: type[StandIn]) -> None:
    producer = EventProducer(Settings())
    await producer.start()
    stand_in.made[0].error = KafkaTimeoutError()
    with pytest.raises(KafkaTimeoutError):
        await producer.publish("t", [event(2)])
    assert len(stand_in.made) == 1 and not stand_in.made[0].stopped
