"""MongoDB adapters of the notify service.

FerretDB answers only `{_id: ...}` lookups without scanning, so everything read on a hot path
is found by a composed `_id`: profiles by recipient, rosters by community, deliveries by
`<event>:<recipient>:<channel>`, inbox items by `<recipient>:<seq>`. Where several writers
may change one document, the unique insert of a commit (AggregateStore) or of a sequence
number (AppendLog) decides; never a conditional update.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel
from pymongo.errors import DuplicateKeyError

from services.notify.delivery import Delivery
from services.notify.domain import (
    Claim,
    NeedView,
    Profile,
    Roster,
    RosterEntry,
    Route,
    Subscription,
    TeamView,
)
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import (
    NeedCancelled,
    NeedEvent,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
)
from shared.events.volunteers import (
    OrgUnitUpdated,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
)
from shared.mongo.client import Database, Document, find_by_ids
from shared.mongo.store import AggregateStore, ConcurrencyConflict
from shared.orgpath import OrgPath

M = TypeVar("M", bound=BaseModel)

MAX_CONFLICT_RETRIES = 10


async def read_head(store: AggregateStore, aggregate_id: str) -> Document | None:
    """The cached newest state: one `_id` lookup, for reads that tolerate a moment's lag."""
    head = await store.heads.find_one({"_id": aggregate_id})
    return None if head is None else {k: v for k, v in head.items() if k not in ("_id", "_version")}


async def update_aggregate(
    store: AggregateStore,
    aggregate_id: str,
    model: type[M],
    change: Callable[[M | None], M | None],
) -> M | None:
    """Load, change, commit; on a conflict reload and decide again. `change` returning the
    same state (or None) writes nothing."""
    for attempt in range(MAX_CONFLICT_RETRIES):
        state, version = await store.load(aggregate_id)
        current = model.model_validate(state) if state is not None else None
        changed = change(current)
        if changed is None or (current is not None and changed == current):
            return current
        try:
            await store.commit(aggregate_id, version, changed.model_dump(mode="json"))
            return changed
        except ConcurrencyConflict:
            await asyncio.sleep(random.uniform(0, 0.01 * 2**attempt))
    raise ConcurrencyConflict(f"{store.name}/{aggregate_id}: too many concurrent writers")


class AppendLog:
    """Per-key lists whose items are `<key>:<seq>`, numbered densely from 1 by unique inserts.
    The head document's `last` is only a hint: readers probe past it."""

    def __init__(self, db: Database, name: str) -> None:
        self.items = db[name]
        self.heads = db[f"{name}_heads"]

    @staticmethod
    def item_id(key: str, seq: int) -> str:
        return f"{key}:{seq:010d}"

    async def hint(self, key: str) -> int:
        head = await self.heads.find_one({"_id": key})
        return int(head.get("last", 0)) if head else 0

    async def last(self, key: str) -> int:
        n = await self.hint(key)
        while await self.items.find_one({"_id": self.item_id(key, n + 1)}, {"_id": 1}):
            n += 1
        return n

    async def append(self, key: str, doc: Document, limit: int | None = None) -> Document | None:
        """Stores `doc` as the next item of `key`; None when the list already holds `limit`."""
        n = await self.hint(key) + 1
        while True:
            if limit is not None and n > limit:
                return None
            item = {**doc, "_id": self.item_id(key, n), "key": key, "seq": n}
            try:
                await self.items.insert_one(item)
                break
            except DuplicateKeyError:
                n += 1
        await self.advance(key, n)
        return item

    async def advance(self, key: str, seq: int, **inc: int) -> None:
        update: Document = {"$max": {"last": seq}}
        if inc:
            update["$inc"] = inc
        try:
            await self.heads.update_one({"_id": key}, update, upsert=True)
        except DuplicateKeyError:  # two first appends raced to create the head
            await self.heads.update_one({"_id": key}, update)

    async def get(self, key: str, seq: int) -> Document | None:
        return await self.items.find_one({"_id": self.item_id(key, seq)})

    async def read(self, key: str, seqs: Sequence[int]) -> list[Document]:
        ids = [self.item_id(key, s) for s in seqs]
        found = await find_by_ids(self.items, ids)
        return [found[i] for i in ids if i in found]

    async def drop(self, key: str, upto: int) -> None:
        for seq in range(1, upto + 1):
            await self.items.delete_one({"_id": self.item_id(key, seq)})
        await self.heads.delete_one({"_id": key})


class ReadModel:
    """What notify knows of other services, built from their events: volunteers and the
    rosters of their communities, teams, org units, needs and their claims."""

    def __init__(self, db: Database) -> None:
        self.volunteers = db["volunteers"]
        self.rosters = AggregateStore(db, "rosters")
        self.teams = db["teams"]
        self.org_units = db["org_units"]
        self.needs = db["needs"]

    # volunteers and rosters

    async def put_volunteer(self, v: VolunteerRegistered) -> Document | None:
        """Stores the volunteer; returns what was stored before."""
        doc = {
            "_id": v.volunteer_id,
            "home_community_id": v.home_community_id,
            "skills": v.skills,
            "location": v.location.model_dump() if v.location else None,
            "active": v.active,
        }
        before = await self.volunteers.find_one({"_id": v.volunteer_id})
        await self.volunteers.replace_one({"_id": v.volunteer_id}, doc, upsert=True)
        return before

    async def volunteer(self, volunteer_id: str) -> Document | None:
        return await self.volunteers.find_one({"_id": volunteer_id})

    async def roster(self, community_id: str) -> Roster:
        state, _ = await self.rosters.load(community_id)
        return Roster.model_validate(state) if state else Roster(community_id=community_id)

    async def put_member(self, community_id: str, volunteer_id: str, entry: RosterEntry) -> None:
        def add(roster: Roster | None) -> Roster:
            roster = roster or Roster(community_id=community_id)
            return roster.model_copy(update={"members": {**roster.members, volunteer_id: entry}})

        await update_aggregate(self.rosters, community_id, Roster, add)

    async def remove_member(self, community_id: str, volunteer_id: str) -> None:
        def remove(roster: Roster | None) -> Roster | None:
            if roster is None or volunteer_id not in roster.members:
                return None
            members = {k: v for k, v in roster.members.items() if k != volunteer_id}
            return roster.model_copy(update={"members": members})

        await update_aggregate(self.rosters, community_id, Roster, remove)

    # teams and org units (events of one team share a partition: applied in order)

    async def apply_team(self, payload: EventPayload) -> None:
        match payload:
            case TeamFormed():
                await self.teams.replace_one(
                    {"_id": payload.team_id},
                    {
                        "_id": payload.team_id,
                        "community_id": payload.community_id,
                        "leader_id": payload.leader_id,
                        "member_ids": payload.member_ids,
                    },
                    upsert=True,
                )
            case TeamMemberJoined():
                await self.teams.update_one(
                    {"_id": payload.team_id},
                    {
                        "$addToSet": {"member_ids": payload.volunteer_id},
                        "$set": {"community_id": payload.community_id},
                    },
                    upsert=True,
                )
            case TeamLeaderChanged():
                await self.teams.update_one(
                    {"_id": payload.team_id},
                    {
                        "$set": {
                            "leader_id": payload.leader_id,
                            "community_id": payload.community_id,
                        }
                    },
                    upsert=True,
                )

    async def teams_by_id(self, team_ids: Sequence[str | None]) -> dict[str, TeamView]:
        out: dict[str, TeamView] = {}
        for team_id in dict.fromkeys(t for t in team_ids if t):
            doc = await self.teams.find_one({"_id": team_id})
            if doc is not None:
                out[team_id] = TeamView(
                    team_id=team_id, **{k: v for k, v in doc.items() if k != "_id"}
                )
        return out

    async def put_org_unit(self, unit: OrgUnitUpdated) -> None:
        await self.org_units.replace_one(
            {"_id": unit.path},
            {"_id": unit.path, "name": unit.name, "level": unit.level, "parent": unit.parent},
            upsert=True,
        )

    async def org_unit_name(self, path: str) -> str | None:
        doc = await self.org_units.find_one({"_id": path}, {"name": 1})
        return str(doc["name"]) if doc else None

    # needs (events of one need share a partition: applied in order)

    async def apply_need(self, payload: NeedEvent) -> NeedView:
        fields: Document = {"community_id": payload.community_id, "category": payload.category}
        for name in ("title", "requester_id"):
            value = getattr(payload, name, None)
            if value:
                fields[name] = value
        match payload:
            case ProjectClaimed():
                fields[f"claims.{payload.claim_id}"] = Claim(
                    volunteer_ids=payload.volunteer_ids,
                    team_id=payload.team_id,
                    organization_id=payload.organization_id,
                ).model_dump()
            case ProjectClaimReleased():
                fields[f"claims.{payload.claim_id}.status"] = "released"
            case TaskCompleted():
                for claim_id in payload.claim_ids:
                    fields[f"claims.{claim_id}.status"] = "completed"
            case NeedCancelled():
                for claim_id in payload.released_claim_ids:
                    fields[f"claims.{claim_id}.status"] = "released"
        await self.needs.update_one({"_id": payload.need_id}, {"$set": fields}, upsert=True)
        return await self.need(payload.need_id) or NeedView(
            need_id=payload.need_id, community_id=payload.community_id, category=payload.category
        )

    async def need(self, need_id: str) -> NeedView | None:
        doc = await self.needs.find_one({"_id": need_id})
        if doc is None:
            return None
        claims = {k: v for k, v in (doc.get("claims") or {}).items() if "volunteer_ids" in v}
        return NeedView(
            need_id=need_id,
            **{k: v for k, v in doc.items() if k not in ("_id", "claims")},
            claims=claims,
        )


class Profiles:
    """Recipients' preferences and subscriptions (one aggregate per recipient), the index of
    subscription ids, and who subscribes to each scope."""

    def __init__(self, db: Database) -> None:
        self.store = AggregateStore(db, "recipients")
        self.owners = db["subscription_owners"]
        self.scopes = AggregateStore(db, "scope_subscribers")

    async def get(self, recipient_id: str) -> Profile:
        state = await read_head(self.store, recipient_id)
        return Profile.model_validate(state) if state else Profile(recipient_id=recipient_id)

    async def update(
        self, recipient_id: str, change: Callable[[Profile], Profile | None]
    ) -> Profile:
        def apply(profile: Profile | None) -> Profile | None:
            return change(profile or Profile(recipient_id=recipient_id))

        return await update_aggregate(self.store, recipient_id, Profile, apply) or Profile(
            recipient_id=recipient_id
        )

    async def add_subscription(self, sub: Subscription) -> None:
        # Index first: an index entry without its subscription is skipped, never the reverse.
        await self.owners.insert_one(
            {"_id": sub.id, "recipient_id": sub.recipient_id, "scope": sub.scope}
        )
        if sub.audience == "scope":
            await self._scope_index(sub.scope, sub.id, sub.recipient_id)
        await self.update(
            sub.recipient_id,
            lambda p: p.model_copy(update={"subscriptions": {**p.subscriptions, sub.id: sub}}),
        )

    async def remove_subscription(self, sub: Subscription) -> None:
        await self.update(
            sub.recipient_id,
            lambda p: p.model_copy(
                update={"subscriptions": {k: v for k, v in p.subscriptions.items() if k != sub.id}}
            ),
        )
        if sub.audience == "scope":
            await self._scope_index(sub.scope, sub.id, None)
        await self.owners.delete_one({"_id": sub.id})

    async def subscription(self, subscription_id: str) -> Subscription | None:
        owner = await self.owners.find_one({"_id": subscription_id})
        if owner is None:
            return None
        profile = await self.get(owner["recipient_id"])
        return profile.subscriptions.get(subscription_id)

    async def _scope_index(self, scope: str, sub_id: str, recipient_id: str | None) -> None:
        def change(state: _ScopeSubscribers | None) -> _ScopeSubscribers:
            subs = dict(state.subscriptions if state else {})
            if recipient_id is None:
                subs.pop(sub_id, None)
            else:
                subs[sub_id] = recipient_id
            return _ScopeSubscribers(subscriptions=subs)

        await update_aggregate(self.scopes, scope, _ScopeSubscribers, change)

    async def scope_subscribers(self, community: str) -> list[str]:
        """Recipients with a scope subscription covering `community`."""
        scopes: list[str] = list(OrgPath(community).ancestors())
        heads = await find_by_ids(self.scopes.heads, scopes)
        found: list[str] = []
        for scope in scopes:
            if scope in heads:
                found += _ScopeSubscribers.model_validate(heads[scope]).subscriptions.values()
        return list(dict.fromkeys(found))

    async def subscriptions_in(self, scope: str) -> list[Subscription]:
        state = await read_head(self.scopes, scope)
        if not state:
            return []
        out: list[Subscription] = []
        for sub_id in _ScopeSubscribers.model_validate(state).subscriptions:
            sub = await self.subscription(sub_id)
            if sub is not None:
                out.append(sub)
        return out


class _ScopeSubscribers(BaseModel):
    subscriptions: dict[str, str] = {}  # subscription id → recipient id


class Routes:
    """The route decided for each (event, recipient), stored once so that a redelivered event
    is routed as it was the first time."""

    def __init__(self, db: Database) -> None:
        self.routes = db["routes"]

    async def get(self, event_id: str, recipient_id: str) -> Route | None:
        doc = await self.routes.find_one({"_id": f"{event_id}:{recipient_id}"})
        return Route.model_validate(doc) if doc else None

    async def record(self, event_id: str, recipient_id: str, route: Route) -> Route:
        key = f"{event_id}:{recipient_id}"
        try:
            await self.routes.insert_one({"_id": key, **route.model_dump()})
            return route
        except DuplicateKeyError:
            return await self.get(event_id, recipient_id) or route


class Digests:
    """Items folded into each recipient's digest of a day, and the digests coming due."""

    def __init__(self, db: Database) -> None:
        self.lines = AppendLog(db, "digest_items")
        self.periods = db["digest_periods"]

    @staticmethod
    def key(recipient_id: str, period: str) -> str:
        return f"{recipient_id}:{period}"

    async def fold(self, recipient_id: str, period: str, due_at: datetime, line: Document) -> None:
        key = self.key(recipient_id, period)
        try:
            await self.periods.insert_one(
                {"_id": key, "recipient_id": recipient_id, "period": period, "due_at": due_at}
            )
        except DuplicateKeyError:
            pass
        await self.lines.append(key, line)

    async def due(self, now: datetime, limit: int = 100) -> list[Document]:
        return await self.periods.find({"due_at": {"$lte": now}}).limit(limit).to_list()

    async def lines_of(self, recipient_id: str, period: str) -> list[Document]:
        key = self.key(recipient_id, period)
        last = await self.lines.last(key)
        found = await self.lines.read(key, range(1, last + 1))
        # A handler that crashed mid-fold and ran again may have folded an event twice.
        return list({d["event_id"]: d for d in found}.values())

    async def close(self, recipient_id: str, period: str) -> None:
        key = self.key(recipient_id, period)
        await self.lines.drop(key, await self.lines.last(key))
        await self.periods.delete_one({"_id": key})


class Deliveries:
    """Delivery aggregates, and the queue of those still pending (small: only what is due
    or held) that the dispatcher scans."""

    def __init__(self, db: Database, topic: str) -> None:
        self.store = AggregateStore(db, "deliveries")
        self.queue = db["delivery_queue"]
        self._topic = topic

    async def create(self, delivery: Delivery) -> int | None:
        """Stores a new delivery; None when it already existed (the event came again)."""
        try:
            version = await self.store.commit(delivery.id, 0, delivery.model_dump(mode="json"))
        except ConcurrencyConflict:
            existing, _ = await self.load(delivery.id)
            if existing is not None and existing.status == "pending":
                await self.enqueue(existing)  # heals a crash between commit and enqueue
            return None
        await self.enqueue(delivery)
        return version

    async def load(self, delivery_id: str) -> tuple[Delivery | None, int]:
        state, version = await self.store.load(delivery_id)
        return (Delivery.model_validate(state) if state else None), version

    async def save(
        self,
        delivery: Delivery,
        expected_version: int,
        events: Sequence[EventPayload] = (),
        requeue: bool = True,
    ) -> int:
        envelopes = [
            (self._topic, CloudEvent.wrap(e, correlation_id=delivery.correlation_id))
            for e in events
        ]
        version = await self.store.commit(
            delivery.id, expected_version, delivery.model_dump(mode="json"), envelopes
        )
        if delivery.status == "pending":
            if requeue:
                await self.enqueue(delivery)
        else:
            await self.queue.delete_one({"_id": delivery.id})
        return version

    async def enqueue(self, delivery: Delivery) -> None:
        doc = {"_id": delivery.id, "due_at": delivery.due_at}
        try:
            await self.queue.replace_one({"_id": delivery.id}, doc, upsert=True)
        except DuplicateKeyError:  # a concurrent upsert created it first
            await self.queue.replace_one({"_id": delivery.id}, doc)

    async def dequeue(self, delivery_id: str) -> None:
        await self.queue.delete_one({"_id": delivery_id})

    async def due(self, now: datetime, limit: int) -> list[Document]:
        return (
            await self.queue.find({"due_at": {"$lte": now}})
            .sort("due_at", 1)
            .limit(limit)
            .to_list()
        )

    async def next_due(self) -> datetime | None:
        doc = await self.queue.find({}).sort("due_at", 1).limit(1).to_list()
        return doc[0]["due_at"] if doc else None

    async def pending(self) -> int:
        return await self.queue.count_documents({})


def entry_for(volunteer: Document, interests: list[str]) -> RosterEntry:
    location: Any = volunteer.get("location") or {}
    return RosterEntry(
        skills=volunteer.get("skills") or [],
        interests=interests,
        lat=location.get("lat"),
        lon=location.get("lon"),
    )
