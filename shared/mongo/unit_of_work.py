"""The unit of work every service's writes go through: load → decide → commit, again on the
newer state when another writer committed that version first (bounded, with jittered
backoff). The store's unique commit insert decides races; the relay is woken by the store.

`UnitOfWork` is the typed form over a `CommitStore` (an `AggregateStore`, or a fake): it
wraps the decided events as CloudEvents for the service's topic, records audit meta with
each commit, and creates aggregates with derived ids by a version-1 insert (taken:
`Duplicate`). `until_committed` is the retry loop alone, for writers over other stores (the
metrics facts)."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, Literal, TypeVar

from pydantic import BaseModel

from shared.events.envelope import CloudEvent, EventPayload
from shared.mongo.client import Document
from shared.mongo.store import ConcurrencyConflict
from shared.ports import CommitStore

S = TypeVar("S", bound=BaseModel)
T = TypeVar("T")

Decide = Callable[[S | None, datetime], tuple[S, Sequence[EventPayload]]]


class Duplicate(Exception):
    """The aggregate's id is taken: its version 1 was committed before."""


class GaveUp(ConcurrencyConflict):
    """Every attempt met a version another writer committed first."""


@dataclass(frozen=True)
class Backoff:
    """Jittered exponential backoff between attempts, and how many attempts at most."""

    base_s: float = 0.004
    cap_s: float = 0.2
    max_attempts: int = 50

    def delay_s(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap_s, self.base_s * 2 ** min(attempt, 8)))


async def until_committed(
    attempt: Callable[[], Awaitable[T]],
    backoff: Backoff = Backoff(),
    on_conflict: Callable[[], None] | None = None,
) -> tuple[T, int]:
    """Runs `attempt` (load, decide, commit) until it is not beaten by another writer (it
    raises ConcurrencyConflict when it is). Returns its result and the number of attempts;
    raises GaveUp after `backoff.max_attempts`."""
    for n in range(1, backoff.max_attempts + 1):
        try:
            return await attempt(), n
        except ConcurrencyConflict:
            if on_conflict is not None:
                on_conflict()
            if n < backoff.max_attempts:
                await asyncio.sleep(backoff.delay_s(n))
    raise GaveUp(f"gave up after {backoff.max_attempts} attempts")


@dataclass(frozen=True)
class Audit:
    """Who causes a change and why, as each commit's meta records it."""

    actor: str
    role: str
    action: str
    reason: str | None = None

    def meta(self, at: datetime) -> Document:
        return {
            "actor": self.actor,
            "role": self.role,
            "action": self.action,
            "reason": self.reason,
            "at": at,
        }


@dataclass(frozen=True)
class Committed(Generic[S]):
    state: S
    version: int
    changed: bool  # False: the decision caused no event and nothing was written
    attempts: int = 1


class UnitOfWork(Generic[S]):
    """Aggregates of one model in one store, their events on one topic."""

    def __init__(
        self,
        store: CommitStore,
        model: type[S],
        topic: str,
        now: Callable[[], datetime],
        *,
        dump: Literal["json", "python"] = "json",
        backoff: Backoff = Backoff(),
    ) -> None:
        self.store = store
        self._model = model
        self._topic = topic
        self._now = now
        self._dump: Literal["json", "python"] = dump
        self._backoff = backoff

    async def get(self, key: str) -> tuple[S | None, int]:
        state, version = await self.store.load(key)
        return (self._model.model_validate(state) if state else None), version

    async def first(self, key: str) -> S | None:
        """The aggregate as its first commit stored it."""
        state = await self.store.first_state(key)
        return None if state is None else self._model.model_validate(state)

    def envelopes(
        self, events: Sequence[EventPayload], correlation_id: str | None
    ) -> list[tuple[str, CloudEvent]]:
        return [(self._topic, CloudEvent.wrap(e, correlation_id=correlation_id)) for e in events]

    async def commit(
        self,
        key: str,
        state: S,
        expected_version: int,
        events: Sequence[EventPayload],
        correlation_id: str | None = None,
        meta: Document | None = None,
    ) -> int:
        """One commit as decided elsewhere (raises ConcurrencyConflict when beaten)."""
        return await self.store.commit(
            key,
            expected_version,
            state.model_dump(mode=self._dump),
            self.envelopes(events, correlation_id),
            meta,
        )

    async def create(
        self,
        key: str,
        state: S,
        events: Sequence[EventPayload],
        correlation_id: str | None = None,
        audit: Audit | None = None,
        at: datetime | None = None,
    ) -> int:
        """Commits version 1 of an aggregate whose id is derived from what makes it unique;
        raises Duplicate when that id is taken."""
        meta = audit.meta(at or self._now()) if audit else None
        try:
            return await self.commit(key, state, 0, events, correlation_id, meta)
        except ConcurrencyConflict:
            raise Duplicate(key) from None

    async def change(
        self,
        key: str,
        decide: Decide[S],
        *,
        audit: Audit | None = None,
        correlation_id: str | None = None,
        on_conflict: Callable[[], None] | None = None,
    ) -> Committed[S]:
        """Applies `decide(state or None, now)` to the newest version and commits what it
        returns (nothing when it returns no event), again on a newer version when beaten."""

        async def attempt() -> Committed[S]:
            state, version = await self.get(key)
            now = self._now()
            changed, events = decide(state, now)
            if not events:
                return Committed(changed if state is None else state, version, changed=False)
            meta = audit.meta(now) if audit else None
            new_version = await self.commit(key, changed, version, events, correlation_id, meta)
            return Committed(changed, new_version, changed=True)

        done, attempts = await until_committed(attempt, self._backoff, on_conflict)
        return Committed(done.state, done.version, done.changed, attempts)
