"""The relay lease on the real FerretDB: one holder at a time, decided by unique inserts."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient

from shared.mongo.lease import Lease
from shared.settings import Settings


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def test_one_holder_a_dead_one_replaced_within_two_terms_a_released_one_at_once(
    settings: Settings,
) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(settings.mongodb_url)
    db = client[settings.database_name("storetest")]
    clock = Clock(1_000_000.0)
    a = Lease(db, "relay", "a", term_s=10, clock=clock)
    b = Lease(db, "relay", "b", term_s=10, clock=clock)
    try:
        assert await a.held() is True
        assert await b.held() is False
        clock.now += 6  # past half the term: a claims the next term too
        assert await a.held() is True
        clock.now += 6  # the next term: still a's
        assert await b.held() is False
        assert await a.held() is True
        # a dies (stops calling held): b waits out the term a claimed ahead, then holds
        clock.now += 6
        assert await b.held() is False
        clock.now += 10
        assert await b.held() is True
        assert await a.held() is False
        # b stops cleanly: a takes over at once
        await b.release()
        assert await a.held() is True
    finally:
        await client.drop_database(settings.database_name("storetest"))
        await client.close()
