"""GroupCommit: concurrent commits share bulk writes; each writer gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from shared.mongo.store import GroupCommit, NewCommit


def commit(i: int) -> NewCommit:
    return NewCommit(f"agg-{i}", 0, {"n": i})


async def test_a_writer_alone_is_written_at_once_and_the_ones_that_arrive_meanwhile_together() -> (
    None
):
    writes: list[list[str]] = []
    release = asyncio.Event()

    async def write(commits: Sequence[NewCommit]) -> list[bool]:
        writes.append([c.aggregate_id for c in commits])
        if len(writes) == 1:
            await release.wait()  # the first write is in flight while the others arrive
        return [not c.aggregate_id.endswith("-3") for c in commits]

    group = GroupCommit(write)
    first = asyncio.create_task(group.submit(commit(0)))
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    rest = [asyncio.create_task(group.submit(commit(i))) for i in range(1, 6)]
    await asyncio.sleep(0)
    release.set()
    results = await asyncio.gather(first, *rest)
    assert writes == [["agg-0"], ["agg-1", "agg-2", "agg-3", "agg-4", "agg-5"]]
    assert results == [True, True, True, False, True, True]


async def test_a_failed_write_fails_the_writers_of_that_batch_only() -> None:
    calls = 0

    async def write(commits: Sequence[NewCommit]) -> list[bool]:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.01)
        if calls == 1:
            raise ConnectionError("down")
        return [True] * len(commits)

    group = GroupCommit(write)
    first = asyncio.create_task(group.submit(commit(0)))
    await asyncio.sleep(0.001)
    second = asyncio.create_task(group.submit(commit(1)))
    with pytest.raises(ConnectionError):
        await first
    assert await second is True
    # and the group keeps working afterwards
    assert await group.submit(commit(2)) is True
