"""The read models' TTL cache: held for its TTL on the injected clock, one load per key at
a time, and a key forgotten during its load not stored by it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from shared.cache import TtlCache
from shared.clock import ManualClock

TTL = timedelta(seconds=30)


class Source:
    def __init__(self) -> None:
        self.value = "a"
        self.loads = 0
        self.gate: asyncio.Event | None = None

    async def load(self, key: str) -> str | None:
        self.loads += 1
        if self.gate is not None:
            await self.gate.wait()
        return None if self.value == "" else f"{key}={self.value}"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(datetime(2026, 1, 1, tzinfo=UTC))


async def test_held_for_ttl_then_loaded_again(clock: ManualClock) -> None:
    src = Source()
    cache: TtlCache[str, str | None] = TtlCache(TTL, src.load, clock=clock)
    assert await cache.get("k") == "k=a"
    src.value = "b"
    clock.advance(TTL - timedelta(seconds=1))
    assert await cache.get("k") == "k=a"
    clock.advance(timedelta(seconds=1))
    assert await cache.get("k") == "k=b"
    assert src.loads == 2


async def test_forget_and_keep(clock: ManualClock) -> None:
    src = Source()
    src.value = ""
    cache: TtlCache[str, str | None] = TtlCache(
        TTL, src.load, clock=clock, keep=lambda v: v is not None
    )
    assert await cache.get("k") is None
    src.value = "a"
    assert await cache.get("k") == "k=a"  # an absent value was not remembered
    src.value = "b"
    cache.forget("k")
    assert await cache.get("k") == "k=b"
    assert src.loads == 3


async def test_single_flight_per_key(clock: ManualClock) -> None:
    src = Source()
    src.gate = asyncio.Event()
    cache: TtlCache[str, str | None] = TtlCache(TTL, src.load, clock=clock)
    waiting = [asyncio.create_task(cache.get("k")) for _ in range(5)]
    other = asyncio.create_task(cache.get("j"))
    await asyncio.sleep(0)
    src.gate.set()
    assert await asyncio.gather(*waiting) == ["k=a"] * 5
    assert await other == "j=a"
    assert src.loads == 2


async def test_forgotten_during_load_is_not_stored(clock: ManualClock) -> None:
    src = Source()
    src.gate = asyncio.Event()
    cache: TtlCache[str, str | None] = TtlCache(TTL, src.load, clock=clock)
    first = asyncio.create_task(cache.get("k"))
    await asyncio.sleep(0)
    cache.forget("k")  # a newer write landed while the old value was being read
    src.value = "b"
    src.gate.set()
    assert await first == "k=b"
    src.value = "c"
    assert await cache.get("k") == "k=c"  # the first load's answer was not kept


async def test_failed_load_is_not_held(clock: ManualClock) -> None:
    calls = 0

    async def load(key: str) -> str:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("down")
        return key

    cache: TtlCache[str, str] = TtlCache(TTL, load, clock=clock)
    with pytest.raises(RuntimeError):
        await cache.get("k")
    assert await cache.get("k") == "k"


async def test_get_many_loads_only_the_missing_keys_in_one_call_and_bounds_what_it_holds(
    clock: ManualClock,
) -> None:
    src = Source()
    calls: list[list[str]] = []

    async def load_many(keys: list[str]) -> dict[str, str | None]:
        calls.append(keys)
        return {k: await src.load(k) for k in keys}

    cache: TtlCache[str, str | None] = TtlCache(TTL, src.load, clock=clock, most=2)
    assert await cache.get_many(["a", "b", "a"], load_many) == {"a": "a=a", "b": "b=a"}
    src.value = "b"
    assert await cache.get_many(["a", "b"], load_many) == {"a": "a=a", "b": "b=a"}
    assert calls == [["a", "b"]]  # the second batch came from memory
    await cache.get_many(["c"], load_many)  # holds at most 2: "a", stored first, goes
    assert await cache.get_many(["a", "b"], load_many) == {"a": "a=b", "b": "b=a"}
    assert calls[-1] == ["a"]


async def test_get_many_does_not_hold_what_it_read_before_a_forget(clock: ManualClock) -> None:
    src = Source()
    src.gate = asyncio.Event()
    cache: TtlCache[str, str | None] = TtlCache(TTL, src.load, clock=clock)

    async def load_many(keys: list[str]) -> dict[str, str | None]:
        return {k: await src.load(k) for k in keys}

    batch = asyncio.ensure_future(cache.get_many(["k"], load_many))
    await asyncio.sleep(0)
    cache.forget("k")  # a change written while the batch read
    src.gate.set()
    assert await batch == {"k": "k=a"}
    src.value = "b"
    src.gate = None
    assert await cache.get_many(["k"], load_many) == {"k": "k=b"}  # read again, not held
