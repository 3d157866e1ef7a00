"""A small TTL cache for read models: values answered from memory for a while after a load.

One load per key at a time (callers that ask while it runs wait for the same answer); a
key forgotten while its load runs is not stored by that load (the write that forgot it may
be newer than what the load read). `get_many` loads the missing keys of a batch in one call;
what it read is not stored if anything was forgotten meanwhile. `most` bounds the entries
held (the least recently stored go first). Time comes from an injected `Clock`.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Sequence
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
        most: int | None = None,
    ) -> None:
        self._ttl = ttl
        self._load = load
        self._clock = clock or SystemClock()
        self._keep = keep
        self._most = most
        self._held: OrderedDict[K, tuple[datetime, V]] = OrderedDict()
        self._loading: dict[K, asyncio.Task[V]] = {}
        self._forgotten = 0  # forget/clear calls: a batch read begun before one is not held

    def _fresh(self, key: K) -> tuple[datetime, V] | None:
        held = self._held.get(key)
        return held if held is not None and self._clock.now() - held[0] < self._ttl else None

    def _store(self, key: K, value: V, started: datetime) -> None:
        if not self._keep(value):
            return
        self._held[key] = (started, value)
        self._held.move_to_end(key)
        while self._most is not None and len(self._held) > self._most:
            self._held.popitem(last=False)

    async def get(self, key: K) -> V:
        held = self._fresh(key)
        if held is not None:
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
        self._store(key, task.result(), started)

    async def get_many(
        self, keys: Sequence[K], load_many: Callable[[list[K]], Awaitable[dict[K, V]]]
    ) -> dict[K, V]:
        """The values of `keys`: from memory where fresh, the rest by one `load_many` call
        (which answers every key it is given)."""
        started, forgotten = self._clock.now(), self._forgotten
        found: dict[K, V] = {}
        for key in keys:
            held = self._fresh(key)
            if held is not None:
                found[key] = held[1]
        missing = [k for k in dict.fromkeys(keys) if k not in found]
        if missing:
            loaded = await load_many(missing)
            for key in missing:
                found[key] = loaded[key]
                if forgotten == self._forgotten:  # else it may be older than the change
                    self._store(key, loaded[key], started)
        return {key: found[key] for key in keys}

    def forget(self, key: K) -> None:
        self._forgotten += 1
        self._held.pop(key, None)
        self._loading.pop(key, None)

    def clear(self) -> None:
        self._forgotten += 1
        self._held.clear()
        self._loading.clear()
