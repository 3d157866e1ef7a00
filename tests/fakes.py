"""In-memory stand-ins for the adapters, for service-layer tests that need no broker or
database: a store with the real store's arbiter (a commit `<id>:<version>` is inserted once,
so races are decided as on FerretDB), the needs service's read model and cap slots, the
metrics fact store, and a bus that drives a service's event-handler registry as the
consumer runner does.

Long because it holds one in-memory fake for each port every service's handlers use, in one
place so that no test writes its own.

The fakes override every I/O method of the adapter they stand in for (they subclass it, so
a service is wired with them unchanged); queries over head documents are not faked: the
integration suite covers them on the real FerretDB."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from pymongo.errors import AutoReconnect, DuplicateKeyError

from services.metrics.adapters.repository import FactStore, Versioned
from services.metrics.domain.facts import Fact, FactKind
from services.needs.adapters.claim_slots import ClaimSlots
from services.needs.adapters.read_model import Directory
from services.needs.domain.eligibility import (
    KnownOrganization,
    KnownOrgUnit,
    KnownTeam,
    KnownVolunteer,
)
from services.notify.adapters.deliveries import Deliveries
from services.notify.adapters.digests import Bursts, Digests
from services.notify.adapters.inbox import (
    Inbox,
    InboxEntry,
    InboxHub,
    entry_of,
    item_fields,
    item_seq,
)
from services.notify.adapters.inbox import public as inbox_public
from services.notify.adapters.profiles import Profiles
from services.notify.adapters.read_model import ReadModel
from services.notify.adapters.repository import AppendLog
from services.notify.adapters.routes import Routes
from services.notify.domain.audience import NeedView, Profile, Route, Subscription, TeamView
from services.notify.domain.delivery import Delivery
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.registry import payload_of
from shared.events.volunteers import (
    DistrictRulesChanged,
    OrganizationRegistered,
    OrgUnitUpdated,
    TeamEvent,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
)
from shared.kafka.consumer import Handler
from shared.mongo.client import Document
from shared.mongo.store import AggregateStore, ConcurrencyConflict, NewCommit, commit_id
from shared.orgpath import OrgPath
from shared.rules import DEFAULT_RULES, DistrictRules, district_of


class FakeCollection:
    """Documents by `_id` with the calls the snapshot store makes (`shared.mongo.snapshots`):
    a query is `_id` and other fields, each matched by equality. `fail_inserts_after` makes
    every insert after that many raise, as a crash part-way would stop them."""

    def __init__(self) -> None:
        self.docs: dict[Any, Document] = {}
        self.fail_inserts_after: int | None = None

    def _matching(self, query: Document) -> Document | None:
        doc = self.docs.get(query["_id"])
        return doc if doc is not None and all(doc.get(k) == v for k, v in query.items()) else None

    async def find_one(self, query: Document, projection: Any = None) -> Document | None:
        return copy.deepcopy(self._matching(query))

    async def insert_one(self, doc: Document) -> None:
        if self.fail_inserts_after is not None:
            if self.fail_inserts_after <= 0:
                raise AutoReconnect("the writer crashed")
            self.fail_inserts_after -= 1
        if doc["_id"] in self.docs:
            raise DuplicateKeyError(f"duplicate key: {doc['_id']}")
        self.docs[doc["_id"]] = copy.deepcopy(doc)

    async def replace_one(self, query: Document, doc: Document) -> Any:
        found = self._matching(query) is not None
        if found:
            self.docs[query["_id"]] = copy.deepcopy(doc)
        return SimpleNamespace(matched_count=int(found))

    async def delete_one(self, query: Document) -> None:
        if self._matching(query) is not None:
            del self.docs[query["_id"]]


class FakeDatabase:
    def __init__(self) -> None:
        self.collections: dict[str, FakeCollection] = {}

    def __getitem__(self, name: str) -> Any:
        return self.collections.setdefault(name, FakeCollection())


class FakeHeads:
    """The head documents' `find_one` by `_id`: what list pages fetch."""

    def __init__(self, store: FakeStore) -> None:
        self._store = store
        self.database = FakeDatabase()  # where the list index keeps its snapshots

    async def find_one(self, query: Document, projection: Any = None) -> Document | None:
        version = self._store.newest.get(query["_id"], 0)
        if version == 0:
            return None
        state = self._store.stored[commit_id(query["_id"], version)]["state"]
        return {**copy.deepcopy(state), "_id": query["_id"], "_version": version}


class FakeStore(AggregateStore):
    """An aggregate store in memory. `published` holds the events of stored commits in
    commit order: what the relay would publish."""

    def __init__(self, name: str = "things") -> None:  # nothing of MongoDB is made
        self.name = name
        self.stored: dict[str, Document] = {}  # commit id → commit
        self.newest: dict[str, int] = {}  # aggregate id → version
        self.published: list[tuple[str, CloudEvent]] = []
        self.heads = FakeHeads(self)  # type: ignore[assignment]
        self._watchers = []

    async def load(self, aggregate_id: str) -> tuple[Document | None, int]:
        version = self.newest.get(aggregate_id, 0)
        if version == 0:
            return None, 0
        return copy.deepcopy(self.stored[commit_id(aggregate_id, version)]["state"]), version

    async def roll_forward(self, aggregate_id: str) -> tuple[Document | None, int]:
        return await self.load(aggregate_id)

    async def commit(
        self,
        aggregate_id: str,
        expected_version: int,
        state: Document,
        events: Sequence[tuple[str, CloudEvent]] = (),
        meta: Document | None = None,
    ) -> int:
        # A write takes a round trip: concurrent writers interleave here as on a database.
        await asyncio.sleep(0)
        if not self._insert(NewCommit(aggregate_id, expected_version, state, events, meta)):
            raise ConcurrencyConflict(commit_id(aggregate_id, expected_version + 1))
        return expected_version + 1

    async def commit_many(self, commits: Sequence[NewCommit]) -> list[bool]:
        await asyncio.sleep(0)
        return [self._insert(c) for c in commits]

    async def commit_grouped(self, commits: Sequence[NewCommit]) -> list[bool]:
        return await self.commit_many(commits)

    def _insert(self, c: NewCommit) -> bool:
        """The arbiter: the unique insert of `<id>:<version>`."""
        version = c.expected_version + 1
        cid = commit_id(c.aggregate_id, version)
        if cid in self.stored:
            return False
        self.stored[cid] = {
            "_id": cid,
            "aggregate_id": c.aggregate_id,
            "version": version,
            "state": copy.deepcopy(c.state),
            "events": [{"topic": t, "id": e.id, "type": e.type} for t, e in c.events],
            "meta": c.meta or {},
            "created_at": datetime.now(UTC),
        }
        self.newest[c.aggregate_id] = max(version, self.newest.get(c.aggregate_id, 0))
        self.published.extend(c.events)
        self._wrote({**copy.deepcopy(c.state), "_id": c.aggregate_id, "_version": version})
        return True

    async def first_state(self, aggregate_id: str) -> Document | None:
        commit = self.stored.get(commit_id(aggregate_id, 1))
        return None if commit is None else copy.deepcopy(commit["state"])

    async def history(self, aggregate_id: str, version: int) -> list[Document]:
        ids = [commit_id(aggregate_id, v) for v in range(1, version + 1)]
        return [copy.deepcopy(self.stored[i]) for i in ids if i in self.stored]

    async def committed(self, commit_ids: Sequence[str]) -> dict[str, Document]:
        return {i: self.stored[i] for i in commit_ids if i in self.stored}

    def take_published(self) -> list[CloudEvent]:
        events = [e for _, e in self.published]
        self.published.clear()
        return events


class FakeStores:
    """The stores of one service by aggregate name, made on first use."""

    def __init__(self) -> None:
        self.by_name: dict[str, FakeStore] = {}

    def __call__(self, name: str) -> FakeStore:
        return self.by_name.setdefault(name, FakeStore(name))

    def take_published(self) -> list[CloudEvent]:
        return [e for store in self.by_name.values() for e in store.take_published()]


class FakeDirectory(Directory):
    """The needs service's read model of the volunteers stream, in memory."""

    def __init__(self) -> None:  # nothing of MongoDB is made
        self.units: dict[str, KnownOrgUnit] = {}
        self.known_volunteers: dict[str, KnownVolunteer] = {}
        self.known_teams: dict[str, KnownTeam] = {}
        self.known_organizations: dict[str, KnownOrganization] = {}
        self.known_rules: dict[str, DistrictRules] = {}

    async def rules(self, path: str) -> DistrictRules:
        return self.known_rules.get(district_of(path), DEFAULT_RULES)

    async def record_rules(self, e: DistrictRulesChanged) -> None:
        self.known_rules[e.district] = DistrictRules.of_event(e)

    async def org_unit(self, path: str) -> KnownOrgUnit | None:
        return self.units.get(path)

    async def volunteer(self, volunteer_id: str) -> KnownVolunteer | None:
        return self.known_volunteers.get(volunteer_id)

    async def team(self, team_id: str, candidates: Sequence[str] = ()) -> KnownTeam | None:
        team = self.known_teams.get(team_id)
        if team is None:
            return None
        members = tuple(m for m in dict.fromkeys(candidates) if m in team.member_ids)
        return KnownTeam(team.id, team.community_id, team.leader_id, members)

    async def organization(self, organization_id: str) -> KnownOrganization | None:
        return self.known_organizations.get(organization_id)

    async def record_org_unit(self, e: OrgUnitUpdated) -> None:
        self.units[e.path] = KnownOrgUnit(e.path, e.name, e.level)

    async def record_volunteer(self, e: VolunteerRegistered) -> None:
        self.known_volunteers[e.volunteer_id] = KnownVolunteer(
            e.volunteer_id, e.home_community_id, e.active
        )

    async def record_organization(self, e: OrganizationRegistered) -> None:
        self.known_organizations[e.organization_id] = KnownOrganization(
            e.organization_id, e.community_id
        )

    async def record_team_formed(self, e: TeamFormed) -> None:
        members = (*e.member_ids, e.leader_id)
        self.known_teams[e.team_id] = KnownTeam(
            e.team_id, e.community_id, e.leader_id, tuple(dict.fromkeys(members))
        )

    async def record_member_joined(self, e: TeamMemberJoined) -> None:
        team = self.known_teams.get(e.team_id) or KnownTeam(e.team_id, e.community_id, None, ())
        members = tuple(dict.fromkeys((*team.member_ids, e.volunteer_id)))
        self.known_teams[e.team_id] = KnownTeam(team.id, e.community_id, team.leader_id, members)

    async def record_leader_changed(self, e: TeamLeaderChanged) -> None:
        team = self.known_teams.get(e.team_id) or KnownTeam(e.team_id, e.community_id, None, ())
        members = tuple(dict.fromkeys((*team.member_ids, e.leader_id)))
        self.known_teams[e.team_id] = KnownTeam(team.id, e.community_id, e.leader_id, members)


class FakeClaimSlots(ClaimSlots):
    """The cap slots in memory: a slot's `_id` is inserted once, as on FerretDB."""

    def __init__(self) -> None:  # nothing of MongoDB is made
        self.slots: dict[str, Document] = {}
        self.sets: dict[str, Document] = {}

    async def _insert(self, doc: Document) -> bool:
        await asyncio.sleep(0)
        if doc["_id"] in self.slots:
            return False
        self.slots[doc["_id"]] = dict(doc)
        return True

    async def _get(self, sid: str) -> Document | None:
        return self.slots.get(sid)

    async def _delete(self, sid: str, claim_id: str) -> bool:
        if self.slots.get(sid, {}).get("claim_id") != claim_id:
            return False
        del self.slots[sid]
        return True

    async def _put_set(self, claim_id: str, doc: Document) -> None:
        self.sets[claim_id] = dict(doc)

    async def _get_set(self, claim_id: str) -> Document | None:
        return self.sets.get(claim_id)

    async def _delete_set(self, claim_id: str) -> None:
        self.sets.pop(claim_id, None)


class FakeFactStore(FactStore):
    """The metrics facts of one generation, in memory, with the same unique rule: a fact's
    version is stored once."""

    def __init__(self, generation: int = 1) -> None:  # nothing of MongoDB is made
        self.generation = generation
        self.versions: dict[tuple[FactKind, str], dict[int, Fact]] = {}

    async def insert(self, kind: FactKind, fact: Fact, version: int) -> None:
        if await self.insert_versions(kind, [(fact, version)]):
            raise ConcurrencyConflict(f"{fact.id}:{version}")

    async def insert_versions(self, kind: FactKind, versions: Sequence[Versioned]) -> set[str]:
        await asyncio.sleep(0)
        taken: set[str] = set()
        for fact, version in versions:
            held = self.versions.setdefault((kind, fact.id), {})
            if version in held:
                taken.add(fact.id)
            else:
                held[version] = fact.model_copy(deep=True)
        return taken

    async def newest_after(self, kind: FactKind, key: str, version: int) -> Versioned | None:
        held = self.versions.get((kind, key), {})
        found: Versioned | None = None
        while version + 1 in held:
            version += 1
            found = (held[version], version)
        return found

    async def newest(self, kind: FactKind) -> dict[str, Versioned]:
        out: dict[str, Versioned] = {}
        for (k, key), held in self.versions.items():
            if k == kind and held:
                top = max(held)
                out[key] = (held[top], top)
        return out


class InMemoryBus:
    """Delivers events to a service's bound handlers as the consumer runner does: the
    payload validated from the CloudEvent (unknown fields ignored), each event id handled
    once (the processed-event ledger), types the service does not handle ignored."""

    def __init__(
        self,
        handlers: Mapping[str, Handler],
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """`flush`: what a batch-flush consumer awaits after each batch (each `deliver`)."""
        self.handlers = handlers
        self.flush = flush
        self.seen: set[str] = set()
        self.handled: list[str] = []

    async def deliver(self, *events: CloudEvent | EventPayload) -> None:
        for item in events:
            event = item if isinstance(item, CloudEvent) else CloudEvent.wrap(item)
            handler = self.handlers.get(event.type)
            if handler is None or event.id in self.seen:
                continue
            # As from Kafka: the envelope's JSON, not the objects the producer held.
            arrived = CloudEvent.from_bytes(event.model_dump_json().encode())
            await handler(arrived, payload_of(arrived))
            self.seen.add(event.id)
            self.handled.append(event.type)
        if self.flush is not None:
            await self.flush()


class NoDatabase:
    """For adapters built with a database they are not to use here: any collection asked
    for is a placeholder that fails if used."""

    def __getitem__(self, name: str) -> Any:
        return _Unused(name)


class _Unused:
    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attr: str) -> Any:
        raise AssertionError(f"collection {self.name} used in a test without a database")


# --- notify ---------------------------------------------------------------------------------


class FakeNotifyReadModel(ReadModel):
    """notify's read model of the other streams: the in-memory mirror and need views are the
    real ones; what they store (volunteers, needs, teams, org units) is held here."""

    def __init__(self) -> None:
        super().__init__(NoDatabase())  # type: ignore[arg-type]
        self.stored_volunteers: dict[str, Document] = {}
        self.stored_needs: dict[str, Document] = {}
        self.stored_teams: dict[str, TeamView] = {}
        self.unit_names: dict[str, str] = {}

    async def load(self) -> None:
        for vid, doc in self.stored_volunteers.items():
            self._mirror(vid, doc)
        self._teams.update(self.stored_teams)
        self.loaded = True

    async def set_interests(self, volunteer_id: str, interests: list[str]) -> None:
        self.stored_volunteers.setdefault(volunteer_id, {})["interests"] = interests
        self._mirror(volunteer_id, {**self.stored_volunteers[volunteer_id]})

    async def flush(self) -> None:
        await asyncio.sleep(0)
        for vid, fields in self._pending.items():
            self.stored_volunteers.setdefault(vid, {}).update(copy.deepcopy(fields))
        for need_id, fields in self._pending_needs.items():
            doc = self.stored_needs.setdefault(need_id, {})
            for path, value in copy.deepcopy(fields).items():
                top, _, claim = path.partition(".")
                if claim:
                    doc.setdefault(top, {})[claim] = value
                else:
                    doc[top] = value
        self._pending.clear()
        self._pending_needs.clear()

    async def need(self, need_id: str) -> NeedView | None:
        await asyncio.sleep(0)
        doc = self.stored_needs.get(need_id)
        return None if doc is None else NeedView(need_id=need_id, **copy.deepcopy(doc))

    async def _store_team(self, payload: TeamEvent) -> None:
        self.stored_teams[payload.team_id] = self._teams[payload.team_id]

    async def put_org_unit(self, unit: OrgUnitUpdated) -> None:
        self.unit_names[unit.path] = unit.name

    async def org_unit_name(self, path: str) -> str | None:
        return self.unit_names.get(path)


class FakeProfiles(Profiles):
    """Recipients' preferences and subscriptions, in memory."""

    def __init__(self) -> None:  # nothing of MongoDB is made
        self.profiles: dict[str, Profile] = {}

    async def get(self, recipient_id: str) -> Profile:
        return self.profiles.get(recipient_id) or Profile(recipient_id=recipient_id)

    async def get_many(self, recipient_ids: Sequence[str]) -> dict[str, Profile]:
        await asyncio.sleep(0)
        return {rid: await self.get(rid) for rid in recipient_ids}

    async def update(
        self, recipient_id: str, change: Callable[[Profile], Profile | None]
    ) -> Profile:
        changed = change(await self.get(recipient_id)) or await self.get(recipient_id)
        self.profiles[recipient_id] = changed
        return changed

    async def add_subscription(self, sub: Subscription) -> None:
        await self.update(sub.recipient_id, lambda p: p.subscribed(sub))

    async def remove_subscription(self, sub: Subscription) -> None:
        await self.update(sub.recipient_id, lambda p: p.unsubscribed(sub.id))

    def _all(self) -> list[Subscription]:
        return [s for p in self.profiles.values() for s in p.subscriptions.values()]

    async def subscription(self, subscription_id: str) -> Subscription | None:
        return next((s for s in self._all() if s.id == subscription_id), None)

    async def scope_subscribers(self, community: str) -> list[str]:
        found = [
            s.recipient_id
            for s in self._all()
            if s.audience == "scope" and OrgPath(s.scope).covers(community)
        ]
        return list(dict.fromkeys(found))

    async def subscriptions_in(self, scope: str) -> list[Subscription]:
        return [s for s in self._all() if s.audience == "scope" and s.scope == scope]


class FakeRoutes(Routes):
    """Routes inserted once per (event, recipient), in memory; caps and last alerts are the
    real in-memory ones."""

    def __init__(self) -> None:
        super().__init__(NoDatabase())  # type: ignore[arg-type]
        self.stored: dict[str, Document] = {}
        self.alerted_at: dict[str, datetime] = {}

    async def load(self, now: datetime) -> None:
        self.last.update(self.alerted_at)

    async def record(
        self, decided: dict[tuple[str, str], tuple[Route, str | None]], now: datetime
    ) -> dict[tuple[str, str], Route]:
        await asyncio.sleep(0)
        routes: dict[tuple[str, str], Route] = {}
        for (event_id, rid), (route, day) in decided.items():
            key = f"{event_id}:{rid}"
            if key in self.stored:  # the event came again: the first decision stands
                routes[(event_id, rid)] = Route.model_validate(self.stored[key])
                if day is not None:
                    self.release(rid, day)
            else:
                self.stored[key] = {"recipient_id": rid, "day": day, **route.model_dump()}
                routes[(event_id, rid)] = route
            if day is not None:
                self._alerted[rid] = max(now, self._alerted.get(rid, now))
        return routes

    async def flush(self) -> None:
        self.alerted_at.update(self._alerted)
        self._alerted.clear()


class FakeBursts(Bursts):
    def __init__(self) -> None:
        super().__init__(NoDatabase())  # type: ignore[arg-type]
        self.stored_windows: dict[str, Document] = {}
        self.stored_items: dict[str, Document] = {}

    async def load(self) -> None:
        for k, d in self.stored_windows.items():
            self.open(k, d["due_at"], d.get("first_event_id"))

    async def record(self, opened: Sequence[Document], folded: Sequence[Document]) -> None:
        for d in opened:
            self.stored_windows.setdefault(d["_id"], dict(d))
        for d in folded:
            self.stored_items.setdefault(d["_id"], dict(d))

    async def due(self, now: datetime) -> list[Document]:
        return [d for d in self.stored_windows.values() if d["due_at"] <= now]

    async def count(self, key: str) -> int:
        return sum(1 for d in self.stored_items.values() if d["key"] == key)

    async def close(self, key: str) -> None:
        self.stored_items = {k: d for k, d in self.stored_items.items() if d["key"] != key}
        self.stored_windows.pop(key, None)
        self._open.pop(key, None)
        self._openers.pop(key, None)


class FakeDigests(Digests):
    def __init__(self) -> None:  # nothing of MongoDB is made
        self.periods: dict[str, Document] = {}  # type: ignore[assignment]
        self.folded: dict[str, list[Document]] = {}

    async def fold(self, recipient_id: str, period: str, due_at: datetime, line: Document) -> None:
        key = self.key(recipient_id, period)
        self.periods.setdefault(
            key, {"_id": key, "recipient_id": recipient_id, "period": period, "due_at": due_at}
        )
        self.folded.setdefault(key, []).append(dict(line))

    async def due(self, now: datetime, limit: int = 100) -> list[Document]:
        return [d for d in self.periods.values() if d["due_at"] <= now][:limit]

    async def lines_of(self, recipient_id: str, period: str) -> list[Document]:
        found = self.folded.get(self.key(recipient_id, period), [])
        return list({d["event_id"]: d for d in found}.values())

    async def close(self, recipient_id: str, period: str) -> None:
        key = self.key(recipient_id, period)
        self.folded.pop(key, None)
        self.periods.pop(key, None)


class FakeDeliveries(Deliveries):
    """Delivery aggregates in a FakeStore (the real adapter's logic on it); the queue of
    pending deliveries in memory."""

    store: FakeStore

    def __init__(self, topic: str) -> None:  # nothing of MongoDB is made
        self.store = FakeStore("deliveries")
        self._topic = topic
        self.queued: dict[str, Document] = {}

    async def enqueue(self, delivery: Delivery) -> None:
        self.queued[delivery.id] = {
            "_id": delivery.id,
            "due_at": delivery.due_at,
            "channel": delivery.channel,
            "need_id": delivery.need_id,
        }

    async def dequeue(self, delivery_id: str) -> None:
        self.queued.pop(delivery_id, None)

    async def due(self, now: datetime, limit: int, channel: str | None = None) -> list[Document]:
        found = [d for d in self.queued.values() if d["due_at"] <= now and d["channel"] == channel]
        return sorted(found, key=lambda d: d["due_at"])[:limit]

    async def pending_for_needs(self, need_ids: Sequence[str]) -> list[Document]:
        return [d for d in self.queued.values() if d["need_id"] in need_ids]

    async def next_due(self) -> datetime | None:
        return min((d["due_at"] for d in self.queued.values()), default=None)

    async def pending(self) -> int:
        return len(self.queued)


class FakeInbox(Inbox):
    """Inbox items by id, in memory; numbering, dedup by delivery and the live hub are the
    real ones."""

    def __init__(self, hub: InboxHub) -> None:
        self.log = AppendLog(NoDatabase(), "inbox")  # type: ignore[arg-type]  # ids only
        self.hub = hub
        self._locks = [asyncio.Lock()]
        self._last: dict[str, int] = {}
        self._heads: dict[str, int] = {}
        self.items: dict[str, Document] = {}

    def of(self, recipient_id: str) -> list[Document]:
        """A recipient's items, oldest first."""
        mine = [d for d in self.items.values() if d["recipient_id"] == recipient_id]
        return sorted(mine, key=lambda d: d["seq"])

    async def learn(self, recipient_ids: Sequence[str]) -> None:
        for rid in recipient_ids:
            if rid not in self._last:
                self._last[rid] = max((d["seq"] for d in self.of(rid)), default=0)

    async def place(self, deliveries: Sequence[Delivery]) -> None:
        await asyncio.sleep(0)
        for d in deliveries:
            item_id = d.inbox_id or ""
            there = self.items.get(item_id)
            if there is not None:
                if there["delivery_id"] != d.id:  # numbered first by another writer
                    await self.add(entry_of(d), retry=True)
                continue
            self.items[item_id] = {
                **item_fields(entry_of(d)),
                "_id": item_id,
                "key": d.recipient_id,
                "seq": item_seq(item_id) or 0,
            }
            self.hub.publish(d.recipient_id, inbox_public(self.items[item_id]))

    async def flush(self) -> None:
        self._heads.clear()

    async def add(self, entry: InboxEntry, retry: bool) -> dict[str, Any]:
        for d in self.of(entry.recipient_id):
            if d["delivery_id"] == entry.delivery_id:
                return inbox_public(d)
        await self.learn([entry.recipient_id])
        self._last[entry.recipient_id] += 1
        seq = self._last[entry.recipient_id]
        item_id = self.log.item_id(entry.recipient_id, seq)
        self.items[item_id] = {
            **item_fields(entry),
            "_id": item_id,
            "key": entry.recipient_id,
            "seq": seq,
        }
        shown = inbox_public(self.items[item_id])
        self.hub.publish(entry.recipient_id, shown)
        return shown

    async def get(self, item_id: str) -> Document | None:
        return self.items.get(item_id)
