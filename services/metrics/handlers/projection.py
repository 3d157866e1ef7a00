"""The live projection: merges events into facts, stores them, serves figures from memory.

Long because merging, storing and serving from memory are one consistency story read together.

Facts are stored in MongoDB (repository.FactStore) and mirrored in memory (FactCache), which
also tells whether an event was merged before; figures are computed from the mirror on
query and kept until any fact changes. A background loop follows the generations pointer
(a rebuild's switch reloads the mirror, and again once the rebuild has settled) and, if
configured, brings the mirror up to date now and then with what other instances merged.

At start the mirror comes from the active generation's snapshot and the facts that events
committed since name (`adapters.snapshots`), else from a full read of the facts; a snapshot
is saved every `read_model_snapshot_s` that the mirror changed. The periodic refresh reads
only the facts named by events the group committed since the last one (`_from_streams`); a
full read is left for a switch of generation, a settling rebuild, and when Kafka cannot say
what was committed.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from pymongo.errors import PyMongoError

from services.metrics import metrics
from services.metrics.adapters.repository import BACKOFF, FactStore, Generations, Pointer, Versioned
from services.metrics.adapters.snapshots import SLICE, FactSnapshots, Held
from services.metrics.domain import facts as facts_domain
from services.metrics.domain import figures, lists
from services.metrics.domain.facts import FACT_KINDS, Fact, FactKind, OrgUnitFact
from services.metrics.domain.figures import Window
from services.metrics.settings import MetricsSettings
from shared.events.envelope import CloudEvent, EventPayload
from shared.kafka.consumer import INFRA_ERRORS
from shared.logging import get_logger
from shared.mongo.client import Database
from shared.mongo.store import ConcurrencyConflict
from shared.mongo.unit_of_work import until_committed
from shared.orgpath import OrgPath

log = get_logger(__name__)

RESULT_CACHE_SIZE = 256
RESULT_STALE_S = 1.0
LOAD_ERRORS: tuple[type[BaseException], ...] = (PyMongoError, *INFRA_ERRORS)
# Facts probed by `_id` side by side when the streams say they may have changed.
PROBES = 50


class FactCache:
    """Every fact of the active generation, indexed by kind, id and org path."""

    def __init__(self) -> None:
        self.revision = 0
        self._facts: dict[FactKind, dict[str, Fact]] = {k: {} for k in FACT_KINDS}
        self._paths: dict[FactKind, dict[str, dict[str, Fact]]] = {
            k: defaultdict(dict) for k in FACT_KINDS
        }
        self._units: set[str] = set()
        self._versions: dict[FactKind, dict[str, int]] = {k: {} for k in FACT_KINDS}

    def get(self, kind: FactKind, fact_id: str) -> Versioned | None:
        fact = self._facts[kind].get(fact_id)
        return None if fact is None else (fact, self._versions[kind][fact_id])

    def put(self, kind: FactKind, fact: Fact, version: int) -> None:
        self._versions[kind][fact.id] = version
        old = self._facts[kind].get(fact.id)
        if old is not None and old.community != fact.community:
            self._paths[kind][old.community].pop(fact.id, None)
        self._facts[kind][fact.id] = fact
        self._paths[kind][fact.community][fact.id] = fact
        if fact.community:
            parts = fact.community.split(".")
            self._units.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        self.revision += 1

    def count(self, kind: FactKind) -> int:
        return len(self._facts[kind])

    def held(self) -> list[Held]:
        """Every fact with its version, as it is now (for a snapshot)."""
        return [
            (kind, fact, self._versions[kind][fact_id])
            for kind in FACT_KINDS
            for fact_id, fact in self._facts[kind].items()
        ]

    def keep_newer(self, other: FactCache) -> None:
        """Takes from `other` every fact it holds in a newer version than this cache."""
        for kind in FACT_KINDS:
            for fact_id, fact in other._facts[kind].items():
                mine = self._versions[kind].get(fact_id, 0)
                if other._versions[kind][fact_id] > mine:
                    self.put(kind, fact, other._versions[kind][fact_id])

    # FactSource
    def under(self, kind: FactKind, scope: str) -> Iterator[Fact]:
        for path, facts in self._paths[kind].items():
            if OrgPath(scope).covers(path):
                yield from facts.values()

    def everywhere(self, kind: FactKind) -> Iterable[Fact]:
        return self._facts[kind].values()

    def units_under(self, scope: str) -> Iterator[str]:
        return (u for u in self._units if OrgPath(scope).covers(u))

    def unit_name(self, path: str) -> str:
        unit = self._facts["org_unit"].get(path)
        if isinstance(unit, OrgUnitFact) and unit.name:
            return unit.name
        return path.rsplit(".", 1)[-1]

    def knows(self, path: str) -> bool:
        return path in self._units


class Projection:
    def __init__(
        self, db: Database, settings: MetricsSettings, streams: Sequence[str] = ()
    ) -> None:
        """`streams`: what the consumer reads (no snapshots without them)."""
        self.generations = Generations(db)
        self.settings = settings
        self.tz = ZoneInfo(settings.timezone)
        self.cache = FactCache()
        self.pointer: Pointer | None = None
        self.store: FactStore | None = None
        self.ready = asyncio.Event()
        self._db = db
        self._lock = asyncio.Lock()
        self._reload_at: float | None = None
        self._results: OrderedDict[tuple[Any, ...], tuple[int, float, Any]] = OrderedDict()
        # Events the consumer's current batch brought, by fact, until `flush` stores them.
        self._queued: dict[tuple[FactKind, str], dict[str, EventPayload]] = {}
        topics = [settings.topics.for_stream(s) for s in streams]
        on = topics and settings.read_model_snapshot_s > 0
        self.snapshots = FactSnapshots(db, settings, topics) if on else None
        # The group's committed offsets every event below which the mirror holds (None:
        # unknown, so refreshes read everything); how it was loaded, for logs and tests.
        self.offsets: dict[str, int] | None = None
        self.source = ""

    @property
    def generation(self) -> int:
        return self.pointer.active if self.pointer else 0

    # --- writes -------------------------------------------------------------------------

    async def handle(self, event: CloudEvent, payload: EventPayload) -> None:
        """The consumer's handler for every event type a figure depends on: queues the event
        for its fact; `flush` merges and stores what the consumer's batch queued."""
        key = facts_domain.fact_key(payload)
        if key is not None:
            queued = self._queued.setdefault(key, {})
            queued.setdefault(event.id, payload)

    async def flush(self) -> None:
        """Merges the queued events into their facts and stores every changed fact, one insert
        per kind. A fact whose next version another instance stored first is merged again
        onto that version. Runs before the consumer commits the batch's offsets, so events
        queued here are never lost; a fact records the ids merged into it, so none counts twice.
        """
        if not self._queued:
            return
        await self.ready.wait()
        async with self._lock:
            await until_committed(self._flush_once, BACKOFF)

    async def _flush_once(self) -> None:
        """One attempt of `flush`; raises ConcurrencyConflict, after catching up with what
        the other writer stored, when some fact's next version was taken."""
        assert self.store is not None
        folds: dict[tuple[FactKind, str], tuple[int, Fact | None, list[facts_domain.Move]]] = {}
        writes: dict[FactKind, list[Versioned]] = defaultdict(list)
        for (kind, fact_id), queued in self._queued.items():
            fact, version = self.cache.get(kind, fact_id) or (None, 0)
            merged, moves = facts_domain.fold(fact, queued.items())
            folds[(kind, fact_id)] = (version + 1, merged, moves)
            if merged is not None:
                writes[kind].append((merged, version + 1))
        taken: set[tuple[FactKind, str]] = set()
        for kind, versions in writes.items():
            taken |= {(kind, i) for i in await self.store.insert_versions(kind, versions)}
        for key, (version, merged, moves) in folds.items():
            if key in taken:
                continue
            del self._queued[key]
            if merged is not None:
                self.cache.put(key[0], merged, version)
                for payload, before, after in moves:
                    metrics.observe(payload, before, after)
        for kind in writes:
            metrics.FACTS.labels(kind).set(self.cache.count(kind))
        if not taken:
            return
        for kind, fact_id in taken:
            known = self.cache.get(kind, fact_id)
            newer = await self.store.newest_after(kind, fact_id, known[1] if known else 0)
            if newer is not None:
                self.cache.put(kind, *newer)
        raise ConcurrencyConflict(f"{len(taken)} facts: their next version was taken")

    # --- the background loop ------------------------------------------------------------

    async def run(self) -> None:
        """Loads the mirror, then follows the pointer; runs until cancelled."""
        while self.pointer is None:
            started = time.monotonic()
            try:
                pointer = await self.generations.pointer()
                async with self._lock:
                    await self._load(pointer)
            except LOAD_ERRORS as exc:
                log.warning("projection_load_failed", error=repr(exc))
                await asyncio.sleep(1)
        log.info(
            "projection_loaded",
            source=self.source,
            facts=sum(self.cache.count(k) for k in FACT_KINDS),
            seconds=round(time.monotonic() - started, 2),
        )
        self.ready.set()
        refresh_s = self.settings.metrics_refresh_s
        next_refresh = time.monotonic() + refresh_s if refresh_s > 0 else None
        snapshot_s = self.settings.read_model_snapshot_s
        next_snapshot = time.monotonic() if snapshot_s > 0 and self.snapshots else None
        saved = -1
        while True:
            await asyncio.sleep(self.settings.metrics_pointer_poll_s)
            now = time.monotonic()
            try:
                pointer = await self.generations.pointer()
                assert self.pointer is not None
                if pointer.active != self.pointer.active:
                    log.info("projection_switched", generation=pointer.active)
                    async with self._lock:  # the consumer waits: it must write the new one
                        offsets = await self._committed()
                        self._install(await self._read(pointer), pointer)
                        self.offsets = offsets
                elif self._reload_at is not None and now >= self._reload_at:
                    await self._reread(pointer)  # a rebuild's last writes, not from a stream
                elif next_refresh is not None and now >= next_refresh:
                    await self._refresh(pointer)
                if next_refresh is not None and now >= next_refresh:
                    next_refresh = now + refresh_s
                if next_snapshot is not None and now >= next_snapshot:
                    next_snapshot = now + snapshot_s
                    if self.cache.revision != saved:
                        saved = await self.save_snapshot(pointer)
            except Exception as exc:  # the loop must outlive any one failed poll or reload
                log.warning("projection_pointer_poll_failed", error=repr(exc))

    async def _committed(self) -> dict[str, int] | None:
        if self.snapshots is None:
            return None
        try:
            return await self.snapshots.committed()
        except INFRA_ERRORS as exc:
            log.warning("projection_offsets_unknown", error=repr(exc))
            return None

    async def _load(self, pointer: Pointer) -> None:
        """From the generation's snapshot and the facts named by events committed since,
        else a full read; the committed offsets are read first, before any fact."""
        offsets = await self._committed()
        self.source = "facts"
        if offsets is not None and self.snapshots is not None and not _settling(pointer):
            loaded = await self.snapshots.load(pointer.active)
            if loaded is not None:
                held, since = loaded
                cache = FactCache()
                for n, (kind, fact, version) in enumerate(held, 1):
                    cache.put(kind, fact, version)
                    if n % SLICE == 0:
                        await asyncio.sleep(0)
                if await self._from_streams(
                    cache, FactStore(self._db, pointer.active), since, offsets
                ):
                    self.source = "snapshot"
                    self._install(cache, pointer)
                    self.offsets = offsets
                    return
        self._install(await self._read(pointer), pointer)
        self.offsets = offsets

    async def _from_streams(
        self,
        cache: FactCache,
        store: FactStore,
        since: dict[str, int],
        until: dict[str, int],
    ) -> bool:
        """Puts in `cache` the newer stored versions of the facts that events between the two
        offsets name; False if the streams no longer hold those events."""
        assert self.snapshots is not None
        touched = await self.snapshots.touched(since, until)
        if touched is None:
            return False
        keys = sorted(touched)
        for start in range(0, len(keys), PROBES):
            chunk = keys[start : start + PROBES]
            found = await asyncio.gather(
                *(store.newest_after(k, i, (cache.get(k, i) or (None, 0))[1]) for k, i in chunk)
            )
            for (kind, fact_id), newer in zip(chunk, found, strict=True):
                held = cache.get(kind, fact_id)
                if newer is not None and (held is None or held[1] < newer[1]):
                    cache.put(kind, *newer)
        return True

    async def _refresh(self, pointer: Pointer) -> None:
        """What other instances merged: from the streams if the offsets are known."""
        until = await self._committed() if self.offsets is not None else None
        if self.offsets is None or until is None or self.store is None:
            await self._reread(pointer)
            return
        # No lock: a fact is put only if newer than the mirror's, and a flush that meets a
        # version put meanwhile merges again onto it (`_flush_once`).
        if not await self._from_streams(self.cache, self.store, self.offsets, until):
            until = None
        if until is None:
            await self._reread(pointer)
        else:
            self.offsets = until

    async def _reread(self, pointer: Pointer) -> None:
        offsets = await self._committed()
        fresh = await self._read(pointer)  # the consumer goes on meanwhile
        async with self._lock:
            fresh.keep_newer(self.cache)
            self._install(fresh, pointer)
            self.offsets = offsets

    async def save_snapshot(self, pointer: Pointer) -> int:
        """The mirror as it is now with the offsets it reflects; the revision saved (-1: not
        saved). Brought up to date from the streams first, so a restart has little to read."""
        if self.snapshots is None or self.offsets is None or _settling(pointer):
            return -1
        if self.settings.metrics_refresh_s <= 0:
            await self._refresh(pointer)  # no refresh of its own: the offsets move on here
        offsets, revision, held = dict(self.offsets), self.cache.revision, self.cache.held()
        saved = await self.snapshots.save(pointer.active, held, offsets)
        log.info("projection_snapshot_saved", facts=len(held), saved=saved)
        return revision if saved else -1

    async def _read(self, pointer: Pointer) -> FactCache:
        cache = FactCache()
        store = FactStore(self._db, pointer.active)
        kinds = await asyncio.gather(*(store.newest(kind) for kind in FACT_KINDS))
        for kind, newest in zip(FACT_KINDS, kinds, strict=True):
            for n, (fact, version) in enumerate(newest.values(), 1):
                cache.put(kind, fact, version)
                if n % SLICE == 0:
                    await asyncio.sleep(0)
        return cache

    def _install(self, cache: FactCache, pointer: Pointer) -> None:
        cache.revision = self.cache.revision + 1
        self.cache, self.pointer = cache, pointer
        self.store = FactStore(self._db, pointer.active)
        self._results.clear()
        for kind in FACT_KINDS:
            metrics.FACTS.labels(kind).set(cache.count(kind))
        # A rebuild still writing around its switch: read its last writes once it is done.
        settling = pointer.settling_until
        wait_s = (settling - datetime.now(UTC)).total_seconds() if settling else 0.0
        self._reload_at = time.monotonic() + wait_s + 0.5 if wait_s > 0 else None
        metrics.GENERATION.set(pointer.active)

    # --- queries ------------------------------------------------------------------------

    def _cached(self, key: tuple[Any, ...], compute: Callable[[], Any]) -> Any:
        """The answer computed for the facts as they are, or at most RESULT_STALE_S ago:
        while events stream in, a busy dashboard costs one computation a second per query."""
        hit = self._results.get(key)
        now = time.monotonic()
        if hit is not None and (hit[0] == self.cache.revision or now - hit[1] < RESULT_STALE_S):
            self._results.move_to_end(key)
            return hit[2]
        started = time.perf_counter()
        value = compute()
        metrics.STATS_DURATION.labels(key[0]).observe(time.perf_counter() - started)
        self._results[key] = (self.cache.revision, now, value)
        self._results.move_to_end(key)
        while len(self._results) > RESULT_CACHE_SIZE:
            self._results.popitem(last=False)
        return value

    def window(self, first: date | None, last: date | None) -> Window:
        return figures.window_of(first, last, self.tz)

    def _active(self, window: Window) -> set[str]:
        result: set[str] = self._cached(
            ("active", window), lambda: figures.active_volunteers(self.cache, window)
        )
        return result

    def now(self) -> datetime:
        """The moment backlog figures are taken at: whole minutes, so answers cache."""
        return datetime.now(UTC).replace(second=0, microsecond=0)

    def stats(self, scope: str, first: date | None, last: date | None) -> dict[str, Any]:
        window, now = self.window(first, last), self.now()
        result: dict[str, Any] = self._cached(
            ("stats", scope, window, now),
            lambda: figures.scope_stats(self.cache, scope, window, self._active(window), now),
        )
        return result

    def ranking(self, scope: str, first: date | None, last: date | None) -> list[dict[str, Any]]:
        window, now = self.window(first, last), self.now()
        result: list[dict[str, Any]] = self._cached(
            ("ranking", scope, window, now),
            lambda: figures.ranking(self.cache, scope, window, self._active(window), now),
        )
        return result

    def rows(
        self,
        figure: str,
        scope: str,
        first: date | None,
        last: date | None,
        category: str | None = None,
    ) -> list[dict[str, Any]]:
        window, now = self.window(first, last), self.now()
        result: list[dict[str, Any]] = self._cached(
            ("rows", figure, scope, window, now, category),
            lambda: lists.rows_behind(
                self.cache, figure, scope, window, self._active(window), now, category
            ),
        )
        return result

    def daily(self, scope: str, first: date, last: date) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._cached(
            ("daily", scope, first, last),
            lambda: figures.daily(self.cache, scope, first, last, self.tz),
        )
        return result

    def today(self) -> date:
        return datetime.now(self.tz).date()


def _settling(pointer: Pointer) -> bool:
    """A rebuild may still be writing around its switch: its facts are not from a stream."""
    return pointer.settling_until is not None and pointer.settling_until > datetime.now(UTC)
