"""The outbox: markers of commits whose events are to be published, and the relay that
publishes them, deletes the markers, and repairs what a writer that died left behind.

Long because the markers, their two ways to the topic (memory and scan), the repair of a
writer that died and the check of the topic's tail after a crash are one correctness story:
each event published, in order, once.

A marker is marked stored by inserting its `_id` into a second collection
(`outbox_stored`), not by updating it: FerretDB 1.x answers `update_many` over `$in` by
scanning and rewriting the outbox (seconds for 200 markers over a few thousand), while a
bulk insert of small documents keyed by the unique `_id` takes milliseconds.

The relay publishes in two ways (`Relay.publish_pending`). In steady state the markers this
process marks stored are handed to its relay in memory (`Outbox.fresh`), in order, and
published and deleted by `_id` without reading the outbox. The scan of the outbox (the
oldest markers by `seq`) publishes the rest: what was there at start-up, markers of writers
that died, of other replicas, and of aggregates whose earlier commits this process did not
see; it runs at start-up and then at most every `scan_every_s` while the memory path keeps
up. An aggregate's events keep their order: a marker goes the memory way only when every
earlier commit of its aggregate was published (or had no events) as this relay knows."""

from __future__ import annotations

import asyncio
import time
import weakref
from collections import OrderedDict, defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from aiokafka.errors import KafkaError
from pymongo import DeleteOne
from pymongo.errors import PyMongoError

from shared.aio import nap
from shared.events.envelope import CloudEvent
from shared.kafka.tail import TopicTail
from shared.logging import get_logger
from shared.metrics import OUTBOX_FAILURES, OUTBOX_PENDING, OUTBOX_PUBLISHED
from shared.mongo.client import Database, Document, insert_new
from shared.mongo.lease import Lease
from shared.ports import EventPublisher

log = get_logger(__name__)
OUTBOX = "outbox"
STORED = "outbox_stored"

# A marker its writer has not set `stored` after this long is checked against its commit.
WRITER_GRACE = timedelta(seconds=3)
# A marker whose commit is still missing after this long belongs to a write that lost.
ORPHAN_GRACE = timedelta(seconds=30)
# Stored commits held for the relay's memory path; beyond this (a relay that does not keep
# up, or none running) the oldest are left to the scan.
FRESH_MAX = 10_000
# Aggregates whose last published version the relay remembers (the memory path's order).
KNOWN_MAX = 100_000


@dataclass(frozen=True)
class Stored:
    """A commit this process stored, as handed to its relay: the aggregate (`<store>/<id>`),
    its version and its marker (None: the commit has no events)."""

    owner: str
    version: int
    marker: Document | None


def owner_of(marker: Document) -> tuple[str, int]:
    """A marker's aggregate (`<store>/<id>`) and the version of its commit."""
    aggregate_id, _, version = marker["commit_id"].rpartition(":")
    return f"{marker['aggregate']}/{aggregate_id}", int(version)


class Outbox:
    """The markers of one database. A marker is reserved before its commit is inserted,
    dropped if the commit lost its race, and marked `stored` once the commit and its head are
    written; marking wakes the database's relay (`listen`), so no writer wakes it by hand.
    One per database object (`Outbox.of`), shared by its stores and its relay."""

    # By identity: a database of another client (a restarted app, a test's own client) is
    # equal to this one but is not the one this process's relay reads with.
    _of: weakref.WeakValueDictionary[int, Outbox] = weakref.WeakValueDictionary()

    def __init__(self, db: Database) -> None:
        self._db = db  # held: its id stays this outbox's key while the outbox lives
        self.markers = db[OUTBOX]
        self._stored = db[STORED]  # `{_id: marker id, at}`: that marker's commit is stored
        self._listeners: list[Callable[[], None]] = []
        # Commits stored by this process, oldest first, for the relay's memory path, each
        # with whether its marker was marked in the database too.
        self.fresh: deque[tuple[Stored, bool]] = deque(maxlen=FRESH_MAX)
        # Set by a running relay that publishes (it holds the lease): markers are then not
        # marked in the database, the relay has them in memory. Should it die or lose the
        # lease first, the next relay finds them unmarked and checks them against their
        # commits after WRITER_GRACE, as those of a writer that died.
        self.handing_over = False

    @classmethod
    def of(cls, db: Database) -> Outbox:
        outbox = cls._of.get(id(db))
        if outbox is None or outbox._db is not db:
            outbox = cls(db)
            cls._of[id(db)] = outbox
        return outbox

    def listen(self, wake: Callable[[], None]) -> None:
        self._listeners.append(wake)

    async def reserve(self, markers: Sequence[Document]) -> None:
        if markers:
            await self.markers.insert_many(list(markers), ordered=False)

    async def drop(self, marker_ids: Sequence[str]) -> None:
        if marker_ids:
            await self.markers.delete_many({"_id": {"$in": list(marker_ids)}})

    async def mark_stored(self, commits: Sequence[Stored]) -> None:
        """Marks the markers of stored commits, then hands the commits (those without events
        too: they keep the chain of versions) to the relay's memory path and wakes it."""
        markers = [c.marker for c in commits if c.marker is not None]
        marked = bool(markers) and not self.handing_over
        if marked:
            now = datetime.now(UTC)
            # a mark already there is the same fact again
            await insert_new(self._stored, [{"_id": m["_id"], "at": now} for m in markers])
        self.fresh.extend((c, marked) for c in commits)
        if markers:
            for wake in self._listeners:
                wake()

    async def stored(self, markers: Sequence[Document]) -> set[str]:
        """The ids among `markers` whose commits are stored (a `stored` field set by an
        earlier build counts too)."""
        ids = [m["_id"] for m in markers if not m.get("stored")]
        marked = await self._stored.find({"_id": {"$in": ids}}, {"_id": 1}).to_list() if ids else []
        return {m["_id"] for m in markers if m.get("stored")} | {m["_id"] for m in marked}

    async def published(
        self, marker_ids: Sequence[str], marked: Sequence[str] | None = None, few: bool = False
    ) -> None:
        """Forgets published markers: their stored mark first (`marked`: those that have
        one; None: all), so that a relay that dies in between finds an unmarked marker and
        publishes it again (as it would had it died before the delete), never a mark without
        its marker. `few`: the outbox holds little more than these (one delete for all)."""
        # One delete by `_id` each (the `_id` index): FerretDB 1.x answers `$in` by a scan,
        # which is quicker only while the outbox is small (each delete by `_id` costs ~2 ms).
        marked = marker_ids if marked is None else marked
        if marked:
            await self._stored.bulk_write([DeleteOne({"_id": i}) for i in marked], ordered=False)
        if marker_ids and few:
            await self.markers.delete_many({"_id": {"$in": list(marker_ids)}})
        elif marker_ids:
            deletes = [DeleteOne({"_id": i}) for i in marker_ids]
            await self.markers.bulk_write(deletes, ordered=False)

    async def sweep(self, older_than: datetime) -> None:
        """Drops marks older than `older_than`: those of a writer that marked after the relay
        had already healed, published and deleted its marker. A live marker that loses its
        mark this way is checked against its commit like any unmarked one."""
        await self._stored.delete_many({"at": {"$lt": older_than}})


class Relay:
    def __init__(
        self,
        db: Database,
        producer: EventPublisher,
        service: str,
        poll_s: float = 0.5,
        batch_size: int = 500,
        lease: Lease | None = None,
        scan_every_s: float = 0.0,
        tail: TopicTail | None = None,
    ) -> None:
        """`lease`: with several replicas, only the one holding it publishes (None: always).
        `scan_every_s`: how often the outbox is scanned while the memory path keeps up (0:
        every pass). `tail`: read before publishing markers a predecessor may have published
        (None: not read; consumers dedup by event id)."""
        self._db = db
        self._lease = lease
        self._tail = tail
        # Since when markers may be on the topic already: a relay died between the broker's
        # ack and its marker delete, or this relay's last publish had an unknown outcome.
        self._unsure_since: datetime | None = datetime.now(UTC)
        self._outbox = Outbox.of(db)
        self._outbox.listen(self.wake)
        self._producer = producer
        self._service = service
        self._poll_s = poll_s
        self._batch_size = batch_size
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._swept = datetime.now(UTC)
        self._scan_every_s = scan_every_s
        self._scan_at = 0.0  # monotonic: the first pass scans
        self._outbox_small = False  # the last scan read all of the outbox, and little
        # Per aggregate, the last version whose events are published (or that had none).
        self._published: OrderedDict[str, int] = OrderedDict()
        # Markers the scan published lately: one also handed over in memory is not sent twice.
        self._scanned: OrderedDict[str, None] = OrderedDict()

    def wake(self) -> None:
        self._wakeup.set()

    def start(self) -> None:
        self._doubt()  # a loop that died (or another process) may have left some
        self._task = asyncio.create_task(self._run(), name=f"{self._service}-relay")

    @property
    def died(self) -> bool:
        """The loop ended while the relay was not stopping (it crashed or was cancelled)."""
        return self._task is not None and self._task.done() and not self._stopping

    def abort(self) -> None:
        """Cancels the loop as a crash would (the faults suite's hook); the supervisor
        restarts it with `start`."""
        if self._task is not None:
            self._task.cancel()

    async def stop(self) -> None:
        """Stops the loop, then one last pass so that a graceful stop leaves nothing behind."""
        self._stopping = True
        self._wakeup.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), 10)
            self._scan_at = 0.0  # the last pass scans too
            if await self._owns():
                async with asyncio.timeout(10):
                    while await self.publish_pending() >= self._batch_size:
                        pass  # a full batch: more may be in memory
            if self._lease is not None:
                await self._lease.release()
        except (TimeoutError, KafkaError, PyMongoError, RuntimeError) as exc:
            log.warning("relay_final_pass_failed", error=repr(exc))  # the next relay publishes
        finally:
            self._outbox.handing_over = False  # what is stored after this is marked
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        failures = 0
        while not self._stopping:
            try:
                if await self._owns():
                    published = await self.publish_pending()
                else:
                    self._outbox.handing_over = False
                    self._outbox.fresh.clear()  # the holder's scan publishes them
                    published = 0
                failures = 0
            except (KafkaError, PyMongoError, TimeoutError, RuntimeError) as exc:
                self._doubt()
                failures += 1
                OUTBOX_FAILURES.labels(self._service).inc()
                log.warning("relay_publish_failed", error=repr(exc), failures=failures)
                published = 0
                await asyncio.sleep(min(5.0, 0.2 * 2**failures))
            if published >= self._batch_size:
                continue  # more may be waiting
            await nap(self._wakeup, self._poll_s)

    async def _owns(self) -> bool:
        if self._lease is None or await self._lease.held():
            return True
        self._doubt()  # whoever holds it may die between its ack and its delete
        return False

    def _doubt(self) -> None:
        self._unsure_since = self._unsure_since or datetime.now(UTC)

    def _settle_doubt(self, now: datetime, waiting: set[str]) -> None:
        """After a pass that published everything it read, or that began once every marker
        from before the doubt was past the writers' grace (so none of them still waits)."""
        since = self._unsure_since
        if since is not None and (not waiting or now - since > WRITER_GRACE):
            self._unsure_since = None

    async def _unpublished(self, topic: str, events: list[CloudEvent]) -> list[CloudEvent]:
        """The events to send: all of them, unless markers may already be on the topic
        (`_doubt`); then those not yet at its end (`TopicTail`)."""
        if self._unsure_since is None or self._tail is None:
            return events
        fresh = await self._tail.unpublished(topic, events, self._batch_size)
        if len(fresh) < len(events):
            log.info("relay_skipped_published", topic=topic, skipped=len(events) - len(fresh))
        return fresh

    async def publish_pending(self) -> int:
        """One pass: what this process stored since the last pass (from memory), then, when
        due, a scan of the outbox. Returns events sent."""
        # While this relay's loop runs, what is stored here is published from memory: the
        # markers need no mark in the database.
        self._outbox.handing_over = self._task is not None and not self._stopping
        sent = await self._publish_fresh()
        if time.monotonic() >= self._scan_at:
            scanned = await self._scan()
            # A full batch: more may be waiting (start-up, a backlog): scan again at once.
            wait = 0.0 if scanned >= self._batch_size else self._scan_every_s
            self._scan_at = time.monotonic() + wait
            sent += scanned
        return sent

    async def _publish_fresh(self) -> int:
        """Publishes the markers handed over in memory, in order, without reading the
        outbox, and deletes them by `_id`. A marker whose aggregate has an earlier commit
        this relay has not seen published is left to the scan (and so are its later ones)."""
        fresh = self._outbox.fresh
        ready: list[Document] = []
        marked: list[str] = []
        chain: dict[str, int] = {}  # versions this pass publishes, remembered once sent
        while fresh and len(ready) < self._batch_size:
            commit, was_marked = fresh.popleft()
            if chain.get(commit.owner, self._published.get(commit.owner, 0)) != commit.version - 1:
                continue  # the scan publishes it once the earlier ones are
            if commit.marker is not None and commit.marker["_id"] in self._scanned:
                continue  # the scan read and published it as it was being handed over
            chain[commit.owner] = commit.version
            if commit.marker is not None:
                ready.append(commit.marker)
                if was_marked:
                    marked.append(commit.marker["_id"])
        # Should this fail, the markers stay in the outbox and the scan sends them. While the
        # memory keeps up (the last scan read the whole outbox, little is left in memory) the
        # outbox holds about what is being published.
        few = self._outbox_small and len(fresh) < self._batch_size
        await self._send(ready, marked, few)
        for owner, version in chain.items():
            self._remember(owner, version)
        return sum(len(m["events"]) for m in ready)

    def _remember(self, owner: str, version: int) -> None:
        self._published[owner] = version
        self._published.move_to_end(owner)
        if len(self._published) > KNOWN_MAX:
            self._published.popitem(last=False)

    async def _send(
        self,
        ready: Sequence[Document],
        marked: Sequence[str] | None = None,
        few: bool = False,
        scanned: bool = False,
    ) -> None:
        """Publishes the events of these markers (or of the commits holding them), then
        forgets the markers. `scanned`: read from the outbox, where a relay that died may
        have left markers it had published (`_unpublished`)."""
        from shared.mongo.store import parse_events  # the store imports this module

        by_topic: dict[str, list[CloudEvent]] = defaultdict(list)
        for source in ready:
            for topic, event in parse_events(source):
                by_topic[topic].append(event)
        for topic, events in by_topic.items():
            if scanned:
                events = await self._unpublished(topic, events)
            await self._producer.publish(topic, events)
            OUTBOX_PUBLISHED.labels(self._service, topic).inc(len(events))
        # Deleting the markers records the publication. The relay after one that died before
        # this delete reads the topic's tail and sends only what is not there (`_unpublished`).
        await self._outbox.published([m["_id"] for m in ready], marked, few)

    async def _scan(self) -> int:
        """One pass over the outbox: publishes what it holds, oldest first.

        A marker its writer set `stored` is published as it is. Any other marker, once older
        than WRITER_GRACE, is checked against its commit: its writer died after the commit
        (the head is healed here) or before it (the marker is dropped once it is old). Until
        then the later markers of its aggregate wait, so that each aggregate's events keep
        their order."""
        outbox = self._outbox.markers
        markers = await outbox.find({}).sort("seq", 1).limit(self._batch_size).to_list()
        self._outbox_small = len(markers) < self._batch_size // 2
        OUTBOX_PENDING.labels(self._service).set(len(markers))
        now = datetime.now(UTC)
        if not markers:
            self._unsure_since = None  # nothing left by anyone
            if now - self._swept > ORPHAN_GRACE:
                await self._outbox.sweep(now - ORPHAN_GRACE)
                self._swept = now
            return 0
        stored = await self._outbox.stored(markers)
        # A young marker not yet stored is most likely a writer still at work: not read.
        unsure = [
            m for m in markers if m["_id"] not in stored and now - m["created_at"] > WRITER_GRACE
        ]
        # The store imports this module: it is asked here, at run time.
        from shared.mongo.store import AggregateStore

        commits: dict[str, Document] = {}
        for name in {m["aggregate"] for m in unsure}:
            ids = [m["commit_id"] for m in unsure if m["aggregate"] == name]
            # Heads a writer left behind (it died right after its commit) are healed here.
            commits.update(await AggregateStore(self._db, name).committed(ids))
        waiting: set[str] = set()
        ready: list[tuple[Document, Document]] = []  # (marker, what holds its events)
        for marker in markers:
            commit = commits.get(marker["commit_id"])
            owner = f"{marker['aggregate']}/{marker['commit_id'].rpartition(':')[0]}"
            if owner in waiting:
                continue
            if marker["_id"] in stored:
                ready.append((marker, marker))
                continue
            if now - marker["created_at"] <= WRITER_GRACE:
                waiting.add(owner)
                continue
            if commit is None or commit["batch"] != marker["_id"]:
                if now - marker["created_at"] > ORPHAN_GRACE:
                    await outbox.delete_one({"_id": marker["_id"]})
                elif commit is None:
                    waiting.add(owner)
                continue
            ready.append((marker, commit))
        await self._send([source for _, source in ready], scanned=True)
        for marker, _ in ready:
            self._remember(*owner_of(marker))
            self._scanned[marker["_id"]] = None
        while len(self._scanned) > 2 * FRESH_MAX:
            self._scanned.popitem(last=False)
        self._settle_doubt(now, waiting)
        return sum(len(source["events"]) for _, source in ready)
