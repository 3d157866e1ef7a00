"""The commit-per-version store on real FerretDB: the unique insert decides between writers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from shared.mongo.client import Database, create_client
from shared.mongo.store import AggregateStore, ConcurrencyConflict
from shared.settings import Settings


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    client = create_client(settings)
    yield client[settings.database_name("storetest")]
    await client.close()


async def test_of_many_writers_of_one_version_exactly_one_wins(db: Database) -> None:
    store = AggregateStore(db, "things")
    await store.commit("a", 0, {"n": 0})

    async def write(i: int) -> bool:
        try:
            await store.commit("a", 1, {"n": i})
            return True
        except ConcurrencyConflict:
            return False

    results = await asyncio.gather(*(write(i) for i in range(20)))
    assert results.count(True) == 1
    state, version = await store.load("a")
    assert version == 2
    assert state == {"n": results.index(True)}


async def test_a_writer_behind_a_lagging_head_conflicts_and_then_sees_the_newest_state(
    db: Database,
) -> None:
    store = AggregateStore(db, "things")
    await store.commit("b", 0, {"n": 1})
    await store.commit("b", 1, {"n": 2})
    # a writer that died between its commit and its head write leaves the head behind
    await store.heads.replace_one({"_id": "b"}, {"_id": "b", "_version": 1, "n": 1})
    state, version = await store.load("b")
    assert (state, version) == ({"n": 1}, 1)
    with pytest.raises(ConcurrencyConflict):
        await store.commit("b", version, {"n": 99})
    assert await store.load("b") == ({"n": 2}, 2)
    assert await store.commit("b", 2, {"n": 3}) == 3


async def test_missing_aggregate_loads_as_none_at_version_zero(db: Database) -> None:
    assert await AggregateStore(db, "things").load("nope") == (None, 0)
