"""notify's batch flushes on the real FerretDB (#12): a flush larger than one `update`
command may carry (FerretDB 1.24 never answered one of 100 updates or more) still lands."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from services.notify.adapters.repository import UPDATES_PER_WRITE, flush_max
from shared.mongo.client import Database, create_client
from shared.settings import Settings


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    client = create_client(settings)
    yield client[settings.database_name("notify")]
    await client.close()


async def test_a_flush_of_more_upserts_than_one_write_carries_stores_every_one(
    db: Database,
) -> None:
    heads = db["inbox_heads"]
    await heads.insert_many([{"_id": f"r-{i}", "last": 1} for i in range(150)])
    pending = {f"r-{i}": 5 for i in range(200)}  # 150 stored already, 50 new
    assert len(pending) > 2 * UPDATES_PER_WRITE
    async with asyncio.timeout(60):  # the product bound for a batch, not a speed check
        await flush_max(heads, pending, "last")
    assert pending == {}
    stored = {d["_id"]: d["last"] async for d in heads.find({})}
    assert stored == {f"r-{i}": 5 for i in range(200)}
