"""A small TTL cache for read models: values answered from memory for a while after a load.

One load per key at a time (callers that ask while it runs wait for the same answer); a
key forgotten while its load runs is not stored by that load (the write that forgot it may
be newer than what the load read). Time comes from an injected `Clock`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from datetime import datetime, timedelta
from typing import Generic, TypeVar

from shared.clock import Clock, SystemClock

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


def _always(_: object) -> bool:
    return True


class TtlCache(Generic[K, V]):
    """`get(key)` answers from memory for `ttl` after `load(key)`; `keep(value)` says
    whether a loaded value is remembered at all (e.g. not an absent one)."""

    def __init__(
        self,
        ttl: timedelta,
        load: Callable[[K], Awaitable[V]],
        *,
        clock: Clock | None = None,
        keep: Callable[[V], bool] = _always,
    ) -> None:
        self._ttl = ttl
        self._load = load
        self._clock = clock or SystemClock()
        self._keep = keep
        self._held: dict[K, tuple[datetime, V]] = {}
        self._loading: dict[K, asyncio.Task[V]] = {}

    async def get(self, key: K) -> V:
        held = self._held.get(key)
        if held is not None and self._clock.now() - held[0] < self._ttl:
            return held[1]
        task = self._loading.get(key)
        if task is None:
            task = asyncio.ensure_future(self._load(key))
            self._loading[key] = task
            started = self._clock.now()
            task.add_done_callback(lambda t: self._settle(key, t, started))
        return await asyncio.shield(task)

    def _settle(self, key: K, task: asyncio.Task[V], started: datetime) -> None:
        failed = task.cancelled() or task.exception() is not None  # (marks it retrieved)
        if self._loading.get(key) is not task:
            return  # forgotten while loading: what it read may be older than the change
        del self._loading[key]
        if failed:
            return
        value = task.result()
        if self._keep(value):
            self._held[key] = (started, value)

    def forget(self, key: K) -> None:
        self._held.pop(key, None)
        self._loading.pop(key, None)

    def clear(self) -> None:
        self._held.clear()
        self._loading.clear()
