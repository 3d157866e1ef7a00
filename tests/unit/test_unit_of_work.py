"""The unit of work on the fake store (which has the real store's arbiter)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from shared.events.envelope import EventPayload
from shared.mongo.store import ConcurrencyConflict
from shared.mongo.unit_of_work import (
    Audit,
    Backoff,
    Duplicate,
    GaveUp,
    UnitOfWork,
    until_committed,
)
from tests.fakes import FakeStore
from tests.needs_support import org_unit

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
FAST = Backoff(base_s=0.0001, cap_s=0.001, max_attempts=5)


class Counter(BaseModel):
    id: str
    n: int = 0


def counters(store: FakeStore) -> UnitOfWork[Counter]:
    return UnitOfWork(store, Counter, "tongxin.volunteers.v1", lambda: T0, backoff=FAST)


def bump(counter: Counter | None, now: datetime) -> tuple[Counter, Sequence[EventPayload]]:
    assert counter is not None
    return counter.model_copy(update={"n": counter.n + 1}), [org_unit("zs")]


async def test_concurrent_changes_are_each_applied_once_on_the_newest_state() -> None:
    store = FakeStore()
    uow = counters(store)
    await uow.create("c", Counter(id="c"), [org_unit("zs")])
    done = await asyncio.gather(*(uow.change("c", bump) for _ in range(4)))
    counter, version = await uow.get("c")
    assert counter is not None and (counter.n, version) == (4, 5)
    assert sorted(d.version for d in done) == [2, 3, 4, 5]
    assert max(d.attempts for d in done) > 1  # someone lost a race and decided again
    assert len(store.take_published()) == 5  # one event per stored commit, none for a loser


async def test_a_decision_without_events_writes_nothing() -> None:
    store = FakeStore()
    uow = counters(store)
    await uow.create("c", Counter(id="c"), [])
    done = await uow.change("c", lambda c, now: (Counter(id="c", n=99), []))
    assert (done.changed, done.version, done.state.n) == (False, 1, 0)
    assert len(store.stored) == 1


async def test_create_of_a_taken_id_is_a_duplicate_and_the_first_stays() -> None:
    store = FakeStore()
    uow = counters(store)
    audit = Audit("a1", "community_admin", "create")
    assert await uow.create("c", Counter(id="c", n=1), [], None, audit) == 1
    with pytest.raises(Duplicate):
        await uow.create("c", Counter(id="c", n=2), [])
    assert await uow.first("c") == Counter(id="c", n=1)
    (commit,) = await store.history("c", 1)
    assert commit["meta"] == {
        "actor": "a1",
        "role": "community_admin",
        "action": "create",
        "reason": None,
        "at": T0,
    }


async def test_the_retry_is_bounded() -> None:
    tries = 0

    async def always_beaten() -> None:
        nonlocal tries
        tries += 1
        raise ConcurrencyConflict("x:1")

    conflicts: list[int] = []
    with pytest.raises(GaveUp):
        await until_committed(always_beaten, FAST, on_conflict=lambda: conflicts.append(1))
    assert tries == FAST.max_attempts == len(conflicts)
