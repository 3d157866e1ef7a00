"""The checker: what the clients were told (History) against what the system holds.

Long because each consumer's effect (state, topics, metrics, passbooks, inboxes, webhooks,
dead letters) is checked against the same history, and the table reports them together.

After the quiet period it reads every topic to its end and asks each service for its state:
every acknowledged write is in its service's state and its events on the topic; every
consumer's effect is there once (the metrics figures exact, each verified completion
credited once in its volunteer's passbook, each notification delivered once per recipient
and channel, in the inbox and at the webhook receiver); every poison record is in its
topic's `.dlq` once per consumer group that reads the topic. It prints a table.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from shared.events.envelope import CloudEvent
from shared.settings import Settings
from tests.faults.workload import COMMUNITIES, DISTRICT, HOOKED, History, admin_of
from tests.helpers import auth

Record: TypeAlias = ConsumerRecord[bytes, bytes]
Ends: TypeAlias = dict[TopicPartition, int]
# Which services' consumers read each stream (services/*/handlers/events.py STREAMS).
READERS = {
    "needs": ["volunteers", "notify", "metrics"],
    "volunteers": ["needs", "identity", "notify", "metrics"],
    "notify": ["metrics"],
}


async def read_to_end(settings: Settings, topic: str) -> list[Record]:
    """Every record of `topic` up to its end offsets when its partitions were assigned."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    await consumer.start()
    try:
        records: list[Record] = []
        deadline = time.monotonic() + 30
        while not consumer.assignment():
            for recs in (await consumer.getmany(timeout_ms=500)).values():
                records.extend(recs)
            if time.monotonic() > deadline:
                return records  # a topic nothing was ever written to
        parts = sorted(consumer.assignment())
        ends = await consumer.end_offsets(parts)

        async def behind() -> bool:
            return any([await consumer.position(tp) < ends[tp] for tp in parts])

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000, max_records=10_000)
            for recs in batch.values():
                records.extend(recs)
        return records
    finally:
        await consumer.stop()


async def lag(settings: Settings, admin: AIOKafkaAdminClient, ends: Ends) -> int:
    """Records the services' consumer groups have not committed yet."""
    behind = 0
    for stream, readers in READERS.items():
        topic = settings.topics.for_stream(stream)
        for service in readers:
            done = await admin.list_consumer_group_offsets(settings.consumer_group(service))
            for tp, end in ends.items():
                if tp.topic == topic:
                    meta = done.get(tp)
                    behind += end - (meta.offset if meta is not None and meta.offset >= 0 else 0)
    return behind


async def quiet(settings: Settings, history: History, still_s: float, max_s: float) -> float:
    """Waits until every consumer group has committed every record and no topic has grown for
    `still_s` (at most `max_s`): outboxes drained, consumers and dispatchers done. Returns
    the seconds waited."""
    started = time.monotonic()
    topics = settings.topics.all
    consumer = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap, group_id=None)
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap)
    await consumer.start()
    await admin.start()
    behind = -1
    try:
        last: Ends = {}
        still_since = time.monotonic()
        while time.monotonic() - started < max_s:
            await consumer.topics()
            parts = [
                TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or []
            ]
            ends = await consumer.end_offsets(parts)
            behind = await lag(settings, admin, ends)
            if ends != last or behind:
                last, still_since = ends, time.monotonic()
            elif time.monotonic() - still_since >= still_s:
                break
            await asyncio.sleep(1)
    finally:
        await consumer.stop()
        await admin.close()
    took = time.monotonic() - started
    history.note(f"checker: quiet after {took:.0f} s ({behind} records not yet consumed)")
    return took


@dataclass
class Topic:
    records: int = 0
    events: dict[str, CloudEvent] = field(default_factory=dict)  # id → event
    poison: list[Record] = field(default_factory=list)

    @property
    def copies(self) -> float:
        return (self.records - len(self.poison)) / len(self.events) if self.events else 1.0


@dataclass
class Verdict:
    history: History
    topics: dict[str, Topic]
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    figures: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name → (metrics, truth)
    webhook_resends: int = 0
    dead_letters: int = 0
    duration_s: float = 0.0

    @property
    def events(self) -> int:
        return sum(len(t.events) for t in self.topics.values())

    @property
    def copies_per_event(self) -> float:
        streams = [t for name, t in self.topics.items() if not name.endswith(".dlq")]
        records = sum(t.records - len(t.poison) for t in streams)
        distinct = sum(len(t.events) for t in streams)
        return records / distinct if distinct else 1.0

    def worst_copies(self) -> float:
        return max(
            (t.copies for n, t in self.topics.items() if not n.endswith(".dlq")), default=1.0
        )

    def recovery_by_kind(self) -> dict[str, tuple[float, str]]:
        out: dict[str, tuple[float, str]] = {}
        for key, s in self.history.recoveries.items():
            kind = key.split(" ", 1)[0]
            if s > out.get(kind, (-1.0, ""))[0]:
                out[kind] = (s, key)
        return out

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated and self.worst_copies() <= 1.01

    def table(self) -> str:
        h = self.history
        by_kind: Counter[str] = Counter()
        for key, n in h.faults.items():
            by_kind[key.split(" ", 1)[0]] += n
        rows = [("faults injected", str(sum(h.faults.values())))]
        rows += [(f"  {kind}", str(n)) for kind, n in sorted(by_kind.items())]
        rows += [(f"    {key}", str(n)) for key, n in sorted(h.faults.items())]
        stories = h.stories.values()
        rows += [
            ("acknowledged writes", str(h.acknowledged)),
            ("  needs posted", str(len(h.stories))),
            ("  approvals", str(sum(s.approved for s in stories))),
            ("  claims won (201)", str(sum(len(s.claims) for s in stories))),
            ("  claim attempts racing", str(sum(len(s.claimers) for s in stories))),
            ("  completions", str(sum(s.completed_by is not None for s in stories))),
            ("  confirmations", str(sum(s.confirmed for s in stories))),
            ("  volunteers imported", str(len(h.volunteers))),
            ("  redemptions", str(len(h.redemptions))),
            ("  appointments", str(len(h.appointments))),
            ("  webhook subscriptions", str(len(h.subscriptions))),
            ("redemptions of unknown outcome", str(sum(h.redemptions_unsure.values()))),
            ("client requests retried", str(h.retried)),
            ("poison records produced", str(len(h.poison))),
            ("dead letters (poison × reading groups)", str(self.dead_letters)),
            ("events (distinct, all streams)", str(self.events)),
            ("lost", str(len(self.lost))),
            ("duplicated effects", str(len(self.duplicated))),
            ("webhook re-sends of one delivery", str(self.webhook_resends)),
        ]
        for name, t in sorted(self.topics.items()):
            if not name.endswith(".dlq"):
                rows.append((f"copies per event {name}", f"{t.copies:.4f} ({len(t.events)})"))
        rows.append(("copies per event, all streams", f"{self.copies_per_event:.4f}"))
        rows += [
            (f"metrics {k}", f"{got} (truth {want})") for k, (got, want) in self.figures.items()
        ]
        rows += [
            (f"longest recovery after {kind}", f"{s:.1f} s ({key})")
            for kind, (s, key) in sorted(self.recovery_by_kind().items())
        ]
        rows.append(("run", f"{self.duration_s / 60:.1f} min"))
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


class Checker:
    def __init__(
        self,
        settings: Settings,
        urls: dict[str, Callable[[], str]],
        history: History,
        webhook_receipts: Counter[str],
        settle_s: float = 300.0,
    ) -> None:
        self.settle_s = settle_s
        self.s = settings
        self.urls = urls
        self.h = history
        self.receipts = webhook_receipts  # delivery id → 200 answers given
        self.v = Verdict(history, {})

    def lose(self, what: str) -> None:
        self.v.lost.append(what)

    def dup(self, what: str) -> None:
        self.v.duplicated.append(what)

    def of_type(self, stream: str, etype: str) -> list[CloudEvent]:
        return [e for e in self.v.topics[stream].events.values() if e.type == etype]

    async def get(self, service: str, path: str, headers: dict[str, str], **params: Any) -> Any:
        async with httpx.AsyncClient() as c:
            for _ in range(30):
                try:
                    r = await c.get(
                        self.urls[service]() + path, params=params, headers=headers, timeout=30
                    )
                except httpx.HTTPError:
                    await asyncio.sleep(1)
                    continue
                if r.status_code < 500:
                    assert r.status_code == 200, f"{service} {path}: {r.status_code} {r.text}"
                    return r.json()
                await asyncio.sleep(1)
        raise AssertionError(f"{service} {path} never answered")

    async def pages(
        self, service: str, path: str, headers: dict[str, str], **params: Any
    ) -> list[Any]:
        items: list[Any] = []
        cursor = None
        while True:
            page = await self.get(
                service, path, headers, **params, **({"cursor": cursor} if cursor else {})
            )
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor or not page["items"]:
                return items

    def dump(self, path: str) -> None:
        """Every event the topics hold, one JSON line each (the failing history)."""
        import json

        with open(path, "w") as out:
            for name, t in sorted(self.v.topics.items()):
                for e in t.events.values():
                    row = {"topic": name, "id": e.id, "type": e.type, "subject": e.subject}
                    out.write(json.dumps({**row, "time": str(e.time), "data": e.data}) + "\n")

    async def run(self) -> Verdict:
        await self.read_topics()
        await self.needs()
        await self.volunteers()
        await self.passbooks()
        await self.notifications()
        await self.poison()
        await self.identity()
        await self.metrics()
        return self.v

    async def read_topics(self) -> None:
        for name in self.s.topics.all:
            t = Topic()
            for r in await read_to_end(self.s, name):
                t.records += 1
                if name.endswith(".dlq"):
                    t.poison.append(r)
                    continue
                try:
                    e = CloudEvent.from_bytes(r.value or b"")
                except ValidationError:
                    t.poison.append(r)
                    continue
                t.events.setdefault(e.id, e)
            self.v.topics[name] = t

    async def needs(self) -> None:
        topic = self.s.topics.needs
        admin = auth(self.s, "district_admin", DISTRICT, "checker")
        held = {n["id"]: n for n in await self.pages("needs", "/v1/needs", admin, limit=200)}
        per_need: dict[str, Counter[str]] = defaultdict(Counter)
        for e in self.v.topics[topic].events.values():
            per_need[e.subject][e.type] += 1
        claimed = {
            e.data["claim_id"]: e for e in self.of_type(topic, "org.tongxin.project.claimed")
        }
        for need_id, story in sorted(self.h.stories.items()):
            need = held.get(need_id)
            events = per_need[need_id]
            if need is None:
                self.lose(f"need {need_id}: posted (201) but not in the needs service")
                continue
            if events["org.tongxin.need.posted"] != 1:
                (self.dup if events["org.tongxin.need.posted"] else self.lose)(
                    f"need {need_id}: {events['org.tongxin.need.posted']} need.posted events"
                )
            if story.approved and not events["org.tongxin.need.approved"]:
                self.lose(f"need {need_id}: approved (200), no need.approved event")
            if story.approved and need["status"] in ("pending_review", "rejected"):
                self.lose(f"need {need_id}: approved (200) but {need['status']}")
            for kind in ("project.claimed", "task.completed", "task.confirmed"):
                if events[f"org.tongxin.{kind}"] > 1:  # one slot: one winner, done once
                    self.dup(f"need {need_id}: {events[f'org.tongxin.{kind}']} {kind} events")
            claim_ids = {c["id"] for c in need["claims"]}
            for v, claim_id in story.claims.items():
                if claim_id not in claim_ids:
                    self.lose(f"need {need_id}: claim {claim_id} of {v} (201) not on the need")
                if claim_id not in claimed:
                    self.lose(f"need {need_id}: claim {claim_id} (201), no project.claimed")
            if len(story.claims) > 1:
                self.dup(f"need {need_id}: one slot, claims won by {sorted(story.claims)}")
            if story.completed_by and need["completion"] is None:
                self.lose(f"need {need_id}: completed (200) but no completion held")
            if story.completed_by and not events["org.tongxin.task.completed"]:
                self.lose(f"need {need_id}: completed (200), no task.completed event")
            if story.confirmed and need["status"] != "confirmed":
                self.lose(f"need {need_id}: confirmed (200) but {need['status']}")
            if story.confirmed and not events["org.tongxin.task.confirmed"]:
                self.lose(f"need {need_id}: confirmed (200), no task.confirmed event")

    async def volunteers(self) -> None:
        admin = auth(self.s, "district_admin", DISTRICT, "checker")
        held = {
            v["id"]
            for v in await self.pages(
                "volunteers", "/v1/volunteers", admin, scope=DISTRICT, limit=200
            )
        }
        registered = Counter(
            e.subject
            for e in self.of_type(self.s.topics.volunteers, "org.tongxin.volunteer.registered")
        )
        for v in sorted(self.h.volunteers):
            if v not in held:
                self.lose(f"volunteer {v}: imported (200) but not in the volunteers service")
            if registered[v] != 1:
                (self.dup if registered[v] else self.lose)(
                    f"volunteer {v}: {registered[v]} volunteer.registered events"
                )

    async def passbooks(self) -> None:
        """Each verified completion credited once to each of its volunteers; each answered
        redemption once; no more redemptions than were asked; the balance their sum."""
        owed: dict[str, set[str]] = defaultdict(set)  # volunteer → needs verified
        for e in self.of_type(self.s.topics.needs, "org.tongxin.hours.verified"):
            for entry in e.data["hours"]:
                owed[entry["volunteer_id"]].add(e.data["need_id"])
        for need_id, story in self.h.stories.items():
            if story.confirmed and story.completed_by and need_id not in owed[story.completed_by]:
                self.lose(f"need {need_id}: confirmed (200), no hours.verified for its volunteer")
        redeemed_by: dict[str, set[str]] = defaultdict(set)
        for rid, v in self.h.redemptions.items():
            redeemed_by[v].add(rid)
        racers = {v for story in self.h.stories.values() for v in story.claimers}
        for v in sorted(racers | set(owed) | set(redeemed_by)):
            community = self.h.volunteers[v]
            admin = auth(self.s, "community_admin", community, admin_of(community))
            book = await self.get("volunteers", f"/v1/volunteers/{v}/passbook", admin, limit=1000)
            ledger = book["ledger"]
            credits = Counter(e["need_id"] for e in ledger if e["kind"] == "credit")
            for need_id in sorted(owed[v] | set(credits)):
                if credits[need_id] != 1:
                    wrong = self.dup if credits[need_id] > 1 else self.lose
                    wrong(f"passbook {v}: need {need_id} credited {credits[need_id]} times")
            if set(credits) - owed[v]:
                self.dup(f"passbook {v}: credits for unverified needs {set(credits) - owed[v]}")
            ids = Counter(e["id"] for e in ledger if e["kind"] == "redemption")
            for rid in sorted(redeemed_by[v]):
                if ids[f"redemption:{rid}"] != 1:
                    (self.dup if ids[f"redemption:{rid}"] else self.lose)(
                        f"passbook {v}: redemption {rid} (201) {ids[f'redemption:{rid}']} times"
                    )
            extra = sum(ids.values()) - len(redeemed_by[v])
            if extra > self.h.redemptions_unsure[v] or any(n > 1 for n in ids.values()):
                self.dup(f"passbook {v}: {extra} redemptions beyond the answered ones")
            if book["balance"] != sum(e["points"] for e in ledger) or book["balance"] < 0:
                self.dup(f"passbook {v}: balance {book['balance']} is not its entries' sum")

    def outcomes(self) -> dict[tuple[str, str, str], list[CloudEvent]]:
        found: dict[tuple[str, str, str], list[CloudEvent]] = defaultdict(list)
        for e in self.v.topics[self.s.topics.notify].events.values():
            if e.type.startswith("org.tongxin.notification."):
                d = e.data
                found[(d["source_event_id"], d["recipient_id"], d["channel"])].append(e)
        return found

    async def notifications(self) -> None:
        """Each notification once per recipient and channel: its outcome event, its inbox
        item, its webhook receipt. Notify's own backlog (its dispatcher and relay) is waited
        for up to `settle_s` before a missing one counts as lost."""
        outcomes = self.outcomes()
        for key, found in outcomes.items():
            if len(found) > 1:
                self.dup(f"notification {key}: {len(found)} outcome events")
        expected: list[tuple[str, str, str]] = []
        inbox_wanted: dict[str, set[str]] = defaultdict(set)  # recipient → event ids
        for etype in HOOKED:
            for e in self.of_type(self.s.topics.needs, etype):
                expected.append((e.id, admin_of(e.data["community_id"]), "webhook"))
                people = (
                    [e.data["requester_id"]]
                    if etype.endswith("claimed")
                    else list(e.data["volunteer_ids"])
                )
                for rid in people:
                    expected.append((e.id, rid, "inapp"))
                    inbox_wanted[rid].add(e.id)
        started = time.monotonic()
        while time.monotonic() - started < self.settle_s:
            missing = [
                k
                for k in expected
                if not any(e.type.endswith(".delivered") for e in outcomes.get(k, []))
            ]
            if not missing:
                break
            self.h.note(f"checker: {len(missing)} notifications not out yet, waiting")
            await asyncio.sleep(10)
            name = self.s.topics.notify
            t = Topic()
            for r in await read_to_end(self.s, name):
                t.records += 1
                try:
                    e = CloudEvent.from_bytes(r.value or b"")
                except ValidationError:
                    t.poison.append(r)
                    continue
                t.events.setdefault(e.id, e)
            self.v.topics[name] = t
            outcomes = self.outcomes()
        self.h.note(f"checker: notifications settled in {time.monotonic() - started:.0f} s")
        events = self.v.topics[self.s.topics.needs].events
        for key in expected:
            found = outcomes.get(key, [])
            if not any(e.type.endswith(".delivered") for e in found):
                source = events[key[0]]
                self.lose(
                    f"notification {key}: not delivered ({[e.type for e in found]}); "
                    f"{source.type} of {source.time:%H:%M:%S.%f}"
                )
            if key[2] == "webhook":
                got = self.receipts[f"{key[0]}:{key[1]}:webhook"]
                if got == 0:
                    self.lose(f"webhook {key}: never received")
                self.v.webhook_resends += max(0, got - 1)
        recipients = {s.requester: s.community for s in self.h.stories.values()}
        recipients |= {v: self.h.volunteers[v] for v in inbox_wanted if v in self.h.volunteers}
        for rid, community in sorted(recipients.items()):
            role = "volunteer" if rid in self.h.volunteers else "resident"
            items = await self.pages(
                "notify", "/v1/inbox", auth(self.s, role, community, rid), limit=200
            )
            held = Counter(i["event_id"] for i in items)
            for event_id in sorted(inbox_wanted[rid]):
                if held[event_id] != 1:
                    (self.dup if held[event_id] else self.lose)(
                        f"inbox {rid}: event {event_id} {held[event_id]} items"
                    )
            if any(n > 1 for n in held.values()):
                self.dup(f"inbox {rid}: an event's item twice")
        for community in COMMUNITIES:
            admin = auth(self.s, "community_admin", community, admin_of(community))
            subs = await self.get("notify", "/v1/subscriptions", admin, scope=community)
            held_ids = {s["id"] for s in subs["items"]}
            for sid, who in self.h.subscriptions.items():
                if who == admin_of(community) and sid not in held_ids:
                    self.lose(f"subscription {sid} of {who} (201) not held")

    async def poison(self) -> None:
        dead: Counter[tuple[str, str, str, str]] = Counter()
        for name, t in self.v.topics.items():
            if name.endswith(".dlq"):
                for r in t.poison:
                    h = {k: v.decode() for k, v in r.headers or []}
                    dead[
                        (
                            h.get("tongxin-original-topic", ""),
                            h.get("tongxin-original-partition", ""),
                            h.get("tongxin-original-offset", ""),
                            h.get("tongxin-consumer-group", ""),
                        )
                    ] += 1
        self.v.dead_letters = sum(dead.values())
        for name, t in self.v.topics.items():
            for r in t.poison if name.endswith(".dlq") else []:
                try:
                    e = CloudEvent.from_bytes(r.value or b"")
                except ValidationError:
                    continue  # one of ours
                h = {k: v.decode()[:200] for k, v in r.headers or []}
                self.lose(
                    f"{e.type} {e.id} dead-lettered by {h.get('tongxin-consumer-group')}: "
                    f"{h.get('tongxin-error')}"
                )
        topics = self.s.topics
        for stream, readers in READERS.items():
            name = topics.for_stream(stream)
            for r in self.v.topics[name].poison:
                for service in readers:
                    key = (name, str(r.partition), str(r.offset), self.s.consumer_group(service))
                    if not dead[key]:
                        self.lose(
                            f"poison {name}@{r.partition}:{r.offset}: no dead letter of {service}"
                        )
        if len(self.h.poison) > sum(
            len(self.v.topics[topics.for_stream(s)].poison) for s in READERS
        ):
            self.lose("poison records produced (acknowledged) but not on their topic")

    async def identity(self) -> None:
        admin = auth(self.s, "district_admin", DISTRICT, "checker")
        held = await self.get("identity", "/v1/appointments", admin, scope=DISTRICT)
        ids = {a["id"] for a in held["items"]}
        made = Counter(
            e.subject for e in self.of_type(self.s.topics.identity, "org.tongxin.appointment.made")
        )
        for aid in sorted(self.h.appointments):
            if aid not in ids:
                self.lose(f"appointment {aid} (201) not held by identity")
            if made[aid] != 1:
                (self.dup if made[aid] else self.lose)(f"appointment {aid}: {made[aid]} events")

    async def metrics(self) -> None:
        """The figures exact: equal to what the topics hold, waited for up to a minute."""
        t = self.s.topics

        def count(stream: str, etype: str) -> int:
            return len(self.of_type(stream, etype))

        hours: dict[str, float] = {}
        for e in self.of_type(t.needs, "org.tongxin.hours.verified"):
            hours[e.data["need_id"]] = sum(h["hours"] for h in e.data["hours"])  # one revision
        truth = {
            "needs_posted": count(t.needs, "org.tongxin.need.posted"),
            "needs_approved": count(t.needs, "org.tongxin.need.approved"),
            "claims": count(t.needs, "org.tongxin.project.claimed"),
            "tasks_completed": count(t.needs, "org.tongxin.task.completed"),
            "tasks_confirmed": count(t.needs, "org.tongxin.task.confirmed"),
            "volunteers_registered": count(t.volunteers, "org.tongxin.volunteer.registered"),
            "volunteer_hours": round(sum(hours.values()), 1),
        }
        operator = auth(self.s, "operator", DISTRICT, "checker")
        deadline = time.monotonic() + 60
        while True:
            stats = await self.get("metrics", "/v1/stats", operator, scope=DISTRICT)
            got = {k: stats.get(k) for k in truth}
            got["volunteer_hours"] = round(float(got["volunteer_hours"] or 0), 1)
            if got == truth or time.monotonic() > deadline:
                break
            await asyncio.sleep(2)
        self.v.figures = {k: (got[k], truth[k]) for k in truth}
        for k in truth:
            if got[k] != truth[k]:
                wrong = self.dup if (got[k] or 0) > truth[k] else self.lose
                wrong(f"metrics {k}: {got[k]}, the topics hold {truth[k]}")
