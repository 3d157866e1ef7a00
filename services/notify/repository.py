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
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from services.notify.delivery import Delivery
from services.notify.domain import (
    Claim,
    NeedView,
    Profile,
    RosterEntry,
    Route,
    Subscription,
    TeamView,
)
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import (
    NeedCancelled,
    NeedEvent,
    NeedPosted,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
)
from shared.events.volunteers import (
    OrgUnitUpdated,
    TeamEvent,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
)
from shared.mongo.client import Database, Document, find_by_ids
from shared.mongo.store import DUPLICATE_KEY, AggregateStore, ConcurrencyConflict, NewCommit
from shared.orgpath import OrgPath

M = TypeVar("M", bound=BaseModel)

MAX_CONFLICT_RETRIES = 10
# Documents per round trip when the in-memory state is loaded at start-up.
LOAD_BATCH = 5_000
# Needs whose view is held in memory (those of recent events; older ones are read again).
NEED_VIEWS_HELD = 20_000
# Names of org units and the subscribers of a scope, answered from memory this long.
NAME_TTL_S = 30.0
SCOPE_TTL_S = 5.0


async def read_head(store: AggregateStore, aggregate_id: str) -> Document | None:
    """The cached newest state: one `_id` lookup, for reads that tolerate a moment's lag."""
    head = await store.heads.find_one({"_id": aggregate_id})
    return None if head is None else _strip_head(head)


def _strip_head(head: Document) -> Document:
    return {k: v for k, v in head.items() if k not in ("_id", "_version")}


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
    """What notify knows of other services, built from their events: volunteers (one document
    each, mirrored in memory by community for matching), teams (a document each and one per
    member, mirrored in memory), org units, needs and claims.

    A registration costs O(1): the mirror changes in memory and the volunteer's document is
    written with the rest of its consumer batch (`flush`, one bulk write). The mirror is
    loaded at start-up (`load`); with several replicas each would hold only the communities
    of its partitions (one consumer replica today)."""

    def __init__(self, db: Database) -> None:
        self.volunteers = db["volunteers"]
        self.teams = db["teams"]
        self.team_members = db["team_members"]
        self._teams: dict[str, TeamView] = {}
        self.org_units = db["org_units"]
        self.needs = db["needs"]
        self._members: dict[str, dict[str, RosterEntry]] = {}
        self._home: dict[str, str] = {}
        self._interests: dict[str, list[str]] = {}
        self._names: dict[str, tuple[float, str | None]] = {}
        self._pending: dict[str, Document] = {}
        self._need_views: OrderedDict[str, NeedView] = OrderedDict()
        self._pending_needs: dict[str, Document] = {}
        self.loaded = False

    # volunteers

    async def load(self) -> None:
        """Fills the mirror from the stored documents (start-up; streamed, no list held)."""
        fields = {"home_community_id": 1, "skills": 1, "location": 1, "active": 1, "interests": 1}

        async def volunteers() -> None:
            async for doc in self.volunteers.find({}, fields, batch_size=LOAD_BATCH):
                self._mirror(doc["_id"], doc)

        await asyncio.gather(volunteers(), self._load_teams())
        self.loaded = True

    def not_loaded(self) -> str | None:
        return None if self.loaded else "志愿者名册加载中 / volunteer mirror loading"

    def put_volunteer(self, v: VolunteerRegistered) -> None:
        """Mirrors the volunteer at once; their document is stored by the next `flush`."""
        fields: Document = {
            "home_community_id": v.home_community_id,
            "skills": v.skills,
            "location": v.location.model_dump() if v.location else None,
            "active": v.active,
        }
        self._pending[v.volunteer_id] = {**self._pending.get(v.volunteer_id, {}), **fields}
        self._mirror(v.volunteer_id, fields)

    async def set_interests(self, volunteer_id: str, interests: list[str]) -> None:
        """A recipient's interests (from preferences and subscriptions) join their entry."""
        await self.volunteers.update_one(
            {"_id": volunteer_id}, {"$set": {"interests": interests}}, upsert=True
        )
        self._interests[volunteer_id] = interests
        community = self._home.get(volunteer_id)
        entry = self._members.get(community or "", {}).get(volunteer_id)
        if entry is not None:
            self._members[community or ""][volunteer_id] = entry.model_copy(
                update={"interests": interests}
            )

    async def flush(self) -> None:
        """Stores the volunteers and needs changed since the last flush (the consumer's
        batch): one bulk write each, side by side. Until both succeed the batch's offsets are
        not committed."""
        await asyncio.gather(
            flush_sets(self.volunteers, self._pending),
            flush_sets(self.needs, self._pending_needs),
        )

    def home_of(self, volunteer_id: str) -> str | None:
        """The volunteer's home community, if notify knows them."""
        return self._home.get(volunteer_id)

    def members(self, community_id: str) -> dict[str, RosterEntry]:
        """The active volunteers of a community, as matching needs them."""
        return self._members.get(community_id, {})

    def _mirror(self, volunteer_id: str, doc: Document) -> None:
        if "interests" in doc:
            self._interests[volunteer_id] = list(doc["interests"] or [])
        community = doc.get("home_community_id")
        if community is None:
            return
        before = self._home.get(volunteer_id)
        if before is not None:
            self._members.get(before, {}).pop(volunteer_id, None)
        self._home[volunteer_id] = community
        if doc.get("active", True):
            self._members.setdefault(community, {})[volunteer_id] = entry_for(
                doc, self._interests.get(volunteer_id, [])
            )

    # teams and org units (events of one team share a partition: applied in order)

    async def apply_team(self, payload: TeamEvent) -> None:
        """The team changes in memory at once, and is stored as a small team document and
        one document per member (`<team>:<volunteer>`, inserted once): a join costs the same
        whatever the team's size."""
        self._mirror_team(payload)
        await self._store_team(payload)

    def _mirror_team(self, payload: TeamEvent) -> None:
        team = self._teams.get(payload.team_id) or TeamView(
            team_id=payload.team_id, community_id=payload.community_id
        )
        update: Document = {"community_id": payload.community_id}
        match payload:
            case TeamFormed():
                update["leader_id"] = payload.leader_id
                update["member_ids"] = _unique([*team.member_ids, *payload.member_ids])
            case TeamMemberJoined():
                update["member_ids"] = _unique([*team.member_ids, payload.volunteer_id])
            case TeamLeaderChanged():
                update["leader_id"] = payload.leader_id
        self._teams[payload.team_id] = team.model_copy(update=update)

    async def _store_team(self, payload: TeamEvent) -> None:
        fields: Document = {"community_id": payload.community_id}
        members: list[str] = []
        match payload:
            case TeamFormed():
                fields["leader_id"] = payload.leader_id
                members = list(payload.member_ids)
            case TeamMemberJoined():
                members = [payload.volunteer_id]
            case TeamLeaderChanged():
                fields["leader_id"] = payload.leader_id
        await self.teams.update_one({"_id": payload.team_id}, {"$set": fields}, upsert=True)
        if members:
            await insert_new(
                self.team_members,
                [
                    {"_id": f"{payload.team_id}:{m}", "team_id": payload.team_id, "member_id": m}
                    for m in _unique(members)
                ],
            )

    async def _load_teams(self) -> None:
        async for doc in self.teams.find({}):
            self._teams[doc["_id"]] = TeamView(
                team_id=doc["_id"],
                community_id=doc.get("community_id", ""),
                leader_id=doc.get("leader_id"),
                member_ids=list(doc.get("member_ids", [])),  # lists stored before member docs
            )
        async for doc in self.team_members.find({}):
            team = self._teams.get(doc["team_id"])
            if team is not None and doc["member_id"] not in team.member_ids:
                team.member_ids.append(doc["member_id"])

    async def teams_by_id(self, team_ids: Sequence[str | None]) -> dict[str, TeamView]:
        """The teams named, from memory."""
        return {t: self._teams[t] for t in dict.fromkeys(team_ids) if t and t in self._teams}

    async def put_org_unit(self, unit: OrgUnitUpdated) -> None:
        self._names.pop(unit.path, None)
        await self.org_units.replace_one(
            {"_id": unit.path},
            {"_id": unit.path, "name": unit.name, "level": unit.level, "parent": unit.parent},
            upsert=True,
        )

    async def org_unit_name(self, path: str) -> str | None:
        """An org unit's name; answered from memory for NAME_TTL_S after a lookup."""
        now = time.monotonic()
        cached = self._names.get(path)
        if cached is not None and now - cached[0] < NAME_TTL_S:
            return cached[1]
        doc = await self.org_units.find_one({"_id": path}, {"name": 1})
        name = str(doc["name"]) if doc else None
        self._names[path] = (now, name)
        return name

    # needs (events of one need share a partition: applied in order)

    async def apply_need(self, payload: NeedEvent) -> NeedView:
        """The need as this event leaves it. Held in memory (the needs of recent events), its
        document written by the next `flush` with the rest of the consumer batch: a need
        event costs no round trip unless the need was last seen before this process began."""
        view = self._need_views.get(payload.need_id)
        if view is None and not isinstance(payload, NeedPosted):  # a need's first event
            view = await self.need(payload.need_id)
        if view is None:
            view = NeedView(
                need_id=payload.need_id,
                community_id=payload.community_id,
                category=payload.category,
            )
        changed, fields = need_change(view, payload)
        self._need_views[payload.need_id] = changed
        self._need_views.move_to_end(payload.need_id)
        while len(self._need_views) > NEED_VIEWS_HELD:
            self._need_views.popitem(last=False)
        self._pending_needs[payload.need_id] = {
            **self._pending_needs.get(payload.need_id, {}),
            **fields,
        }
        return changed

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


def need_change(view: NeedView, payload: NeedEvent) -> tuple[NeedView, Document]:
    """The view after the event, and the `$set` that stores it: top-level fields and whole
    claims by id (`claims.<id>`), so that merged changes never overlap."""
    fields: Document = {"community_id": payload.community_id, "category": payload.category}
    for name in ("title", "requester_id"):
        value = getattr(payload, name, None)
        if value:
            fields[name] = value
    claims = dict(view.claims)

    def status(claim_id: str, value: Literal["released", "completed"]) -> None:
        if claim_id in claims:
            claims[claim_id] = claims[claim_id].model_copy(update={"status": value})

    match payload:
        case ProjectClaimed():
            claims[payload.claim_id] = Claim(
                volunteer_ids=payload.volunteer_ids,
                team_id=payload.team_id,
                organization_id=payload.organization_id,
            )
        case ProjectClaimReleased():
            status(payload.claim_id, "released")
        case TaskCompleted():
            for claim_id in payload.claim_ids:
                status(claim_id, "completed")
        case NeedCancelled():
            for claim_id in payload.released_claim_ids:
                status(claim_id, "released")
    for claim_id, claim in claims.items():
        if view.claims.get(claim_id) != claim:
            fields[f"claims.{claim_id}"] = claim.model_dump()
    changed = view.model_copy(update={**fields_of(fields), "claims": claims})
    return changed, fields


def fields_of(fields: Document) -> Document:
    return {k: v for k, v in fields.items() if "." not in k}


class Profiles:
    """Recipients' preferences and subscriptions (one aggregate per recipient), the index of
    subscription ids, and who subscribes to each scope."""

    def __init__(self, db: Database) -> None:
        self.store = AggregateStore(db, "recipients")
        self.owners = db["subscription_owners"]
        self.scopes = AggregateStore(db, "scope_subscribers")
        self._scope_cache: dict[str, tuple[float, list[str]]] = {}

    async def get(self, recipient_id: str) -> Profile:
        state = await read_head(self.store, recipient_id)
        return Profile.model_validate(state) if state else Profile(recipient_id=recipient_id)

    async def get_many(self, recipient_ids: Sequence[str]) -> dict[str, Profile]:
        """The profiles of many recipients at once (one `_id` lookup each, side by side)."""
        heads = await find_by_ids(self.store.heads, recipient_ids)
        return {
            rid: Profile.model_validate(_strip_head(heads[rid]))
            if rid in heads
            else Profile(recipient_id=rid)
            for rid in recipient_ids
        }

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
        self._scope_cache.clear()

        def change(state: _ScopeSubscribers | None) -> _ScopeSubscribers:
            subs = dict(state.subscriptions if state else {})
            if recipient_id is None:
                subs.pop(sub_id, None)
            else:
                subs[sub_id] = recipient_id
            return _ScopeSubscribers(subscriptions=subs)

        await update_aggregate(self.scopes, scope, _ScopeSubscribers, change)

    async def scope_subscribers(self, community: str) -> list[str]:
        """Recipients with a scope subscription covering `community`: from memory for
        SCOPE_TTL_S (a subscription made here is seen at once, one made by another replica
        within SCOPE_TTL_S)."""
        now = time.monotonic()
        cached = self._scope_cache.get(community)
        if cached is not None and now - cached[0] < SCOPE_TTL_S:
            return cached[1]
        found = await self._scope_subscribers(community)
        self._scope_cache[community] = (now, found)
        return found

    async def _scope_subscribers(self, community: str) -> list[str]:
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
    """The route decided for each (event, recipient), inserted once for all of an event's
    recipients so that a redelivered event is routed as it was the first time; and, in memory,
    what caps and fair selection need: each volunteer's need messages per local day and when
    each was last alerted. Both are loaded at start-up from insert-only documents."""

    def __init__(self, db: Database) -> None:
        self.routes = db["routes"]
        self.alerted = db["last_alerted"]
        self.last: dict[str, datetime] = {}
        self._today: dict[tuple[str, str], int] = {}
        # When volunteers were alerted, stored by the next `flush` (`last` has it already).
        self._alerted: dict[str, datetime] = {}

    async def load(self, now: datetime) -> None:
        """Counts today's (and yesterday's, for other time zones) need messages; who was
        alerted when (one document per volunteer)."""
        self._today.clear()
        since = now - timedelta(hours=48)

        async def counted() -> None:
            query = {"counted": True, "at": {"$gte": since}}
            fields = {"recipient_id": 1, "day": 1}
            async for doc in self.routes.find(query, fields, batch_size=LOAD_BATCH):
                key = (doc["recipient_id"], doc["day"])
                self._today[key] = self._today.get(key, 0) + 1

        async def alerted() -> None:
            async for doc in self.alerted.find({}, batch_size=LOAD_BATCH):
                self.last[doc["_id"]] = max(doc["at"], self.last.get(doc["_id"], doc["at"]))

        await asyncio.gather(counted(), alerted())

    def chosen(self, recipient_ids: Sequence[str], now: datetime) -> None:
        """Chosen for a need now: fair selection moves on to others."""
        for rid in recipient_ids:
            self.last[rid] = now

    def reserve(self, recipient_id: str, day: str, now: datetime, cap: int) -> bool:
        """Counts a need message for the volunteer's day; False (nothing counted) over cap.
        Alerted now either way: fair selection moves on to others."""
        self.last[recipient_id] = now
        key = (recipient_id, day)
        if self._today.get(key, 0) >= cap:
            return False
        self._today[key] = self._today.get(key, 0) + 1
        return True

    def release(self, recipient_id: str, day: str) -> None:
        key = (recipient_id, day)
        self._today[key] = max(0, self._today.get(key, 0) - 1)

    async def record(
        self, decided: dict[tuple[str, str], tuple[Route, str | None]], now: datetime
    ) -> dict[tuple[str, str], Route]:
        """Stores the routes decided per (event, recipient), for a batch of events (one
        insert); a route stored before (the event came again) wins and what this pass
        counted for it is released."""
        keys = list(decided)
        docs = [
            {
                "_id": f"{event_id}:{rid}",
                "recipient_id": rid,
                "counted": decided[(event_id, rid)][1] is not None,
                "day": decided[(event_id, rid)][1],
                "at": now,
                **decided[(event_id, rid)][0].model_dump(),
            }
            for event_id, rid in keys
        ]
        routes = {key: route for key, (route, _) in decided.items()}
        if not docs:
            return routes
        taken = await insert_new(self.routes, docs)
        if taken:
            stored = await find_by_ids(self.routes, [docs[i]["_id"] for i in taken])
            for i in taken:
                rid, day = docs[i]["recipient_id"], decided[keys[i]][1]
                if day is not None:
                    self.release(rid, day)
                doc = stored.get(docs[i]["_id"])
                if doc is not None:
                    routes[keys[i]] = Route.model_validate(doc)
        for d in docs:
            if d["counted"]:
                rid = d["recipient_id"]
                self._alerted[rid] = max(now, self._alerted.get(rid, now))
        return routes

    async def flush(self) -> None:
        """Stores when the volunteers routed since the last flush (the consumer's batch) were
        alerted: one bulk write. Only a restart reads them back (`load`)."""
        await flush_max(self.alerted, self._alerted, "at")


V = TypeVar("V")


async def flush_pending(
    collection: Any,
    pending: dict[str, V],
    update: Callable[[V], Document],
    merge: Callable[[V, V], V],
) -> None:
    """Upserts `{_id: update(value)}` for each of `pending` in one bulk write and empties it;
    on failure what was taken is kept for the next try, merged (older, newer) with what was
    added since."""
    if not pending:
        return
    taken = dict(pending)
    pending.clear()
    ops = [UpdateOne({"_id": key}, update(value), upsert=True) for key, value in taken.items()]
    try:
        await upsert_bulk(collection, ops)
    except BaseException:
        for key, value in taken.items():
            pending[key] = merge(value, pending[key]) if key in pending else value
        raise


async def flush_sets(collection: Any, pending: dict[str, Document]) -> None:
    """`$set` of the fields pending per document (later ones win)."""
    await flush_pending(collection, pending, lambda f: {"$set": f}, lambda a, b: {**a, **b})


async def flush_max(collection: Any, pending: dict[str, Any], field: str) -> None:
    """`$max` of `field` per document (the larger wins)."""
    await flush_pending(collection, pending, lambda v: {"$max": {field: v}}, max)


async def insert_new(collection: Any, docs: Sequence[Document]) -> set[int]:
    """Inserts what is new (one unordered bulk insert); the indexes of documents whose `_id`
    was taken."""
    try:
        await collection.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {int(e["index"]) for e in errors}
    return set()


async def upsert_bulk(collection: Any, ops: Sequence[UpdateOne]) -> None:
    """Upserts in one bulk write; two first upserts of one document may race (FerretDB): the
    loser is applied again as an update."""
    try:
        await collection.bulk_write(list(ops), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        await collection.bulk_write([ops[int(e["index"])] for e in errors], ordered=False)


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


class Bursts:
    """Bursts of one event type in one scope for one subscriber (a bulk import): the first
    event goes out as itself and opens a window; what follows within it is counted (one
    insert-only item per event) and told once, in a summary, when the window closes."""

    def __init__(self, db: Database) -> None:
        self.windows = db["burst_windows"]
        self.items = db["burst_items"]
        self._open: dict[str, datetime] = {}
        self._openers: dict[str, str] = {}  # the event that opened each window

    @staticmethod
    def key(recipient_id: str, event_type: str, community: str) -> str:
        return f"{recipient_id}|{event_type}|{community}"

    async def load(self) -> None:
        async for d in self.windows.find({}):
            self.open(d["_id"], d["due_at"], d.get("first_event_id"))

    def is_open(self, key: str, opened_by: str | None = None) -> bool:
        """Whether a window is open for `key`, other than one event `opened_by` opened (told
        again after a failed write, it opens it again)."""
        return key in self._open and (opened_by is None or self._openers.get(key) != opened_by)

    def open(self, key: str, due_at: datetime, event_id: str | None = None) -> None:
        self._open[key] = due_at
        if event_id is not None:
            self._openers[key] = event_id

    async def record(self, opened: Sequence[Document], folded: Sequence[Document]) -> None:
        """New windows and counted events: one insert each, either may have come before."""
        if opened:
            await insert_new(self.windows, opened)
        if folded:
            await insert_new(self.items, folded)

    async def due(self, now: datetime) -> list[Document]:
        return await self.windows.find({"due_at": {"$lte": now}}).to_list()

    async def count(self, key: str) -> int:
        return int(await self.items.count_documents({"key": key}))

    async def close(self, key: str) -> None:
        await self.items.delete_many({"key": key})
        await self.windows.delete_one({"_id": key})
        self._open.pop(key, None)
        self._openers.pop(key, None)


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

    async def create_delivered(
        self, delivered: Sequence[tuple[Delivery, EventPayload]]
    ) -> list[bool]:
        """Stores deliveries made in their first commit (in-app: the inbox item is in it),
        with their `notification.delivered`: a few bulk writes for all. Per delivery True, or
        False when it existed (the event came again)."""
        commits = [
            NewCommit(
                d.id,
                0,
                d.model_dump(mode="json"),
                [(self._topic, CloudEvent.wrap(e, correlation_id=d.correlation_id))],
            )
            for d, e in delivered
        ]
        return await self.store.commit_grouped(commits)

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
            await self.dequeue(delivery.id)
        return version

    async def enqueue(self, delivery: Delivery) -> None:
        doc = {
            "_id": delivery.id,
            "due_at": delivery.due_at,
            "channel": delivery.channel,
            "need_id": delivery.need_id,
        }
        try:
            await self.queue.replace_one({"_id": delivery.id}, doc, upsert=True)
        except DuplicateKeyError:  # a concurrent upsert created it first
            await self.queue.replace_one({"_id": delivery.id}, doc)

    async def dequeue(self, delivery_id: str) -> None:
        await self.queue.delete_one({"_id": delivery_id})

    async def due(self, now: datetime, limit: int, channel: str | None = None) -> list[Document]:
        """Due entries of one channel's backlog (None: entries queued before they carried
        their channel)."""
        where = {"$exists": False} if channel is None else channel
        return (
            await self.queue.find({"due_at": {"$lte": now}, "channel": where})
            .sort("due_at", 1)
            .limit(limit)
            .to_list()
        )

    async def pending_for_need(self, need_id: str) -> list[Document]:
        """Queue entries of a need (the queue is small: only what is due or held)."""
        return await self.queue.find({"need_id": need_id}).to_list()

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


def _unique(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))
