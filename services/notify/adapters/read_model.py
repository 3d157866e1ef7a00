"""The notify service's read model of the needs and volunteers streams: who is
where, in which team, with which skills (the mirror notify addresses from).

Long because the mirror's load, its per-event updates and its queries must agree on one in-
memory shape.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Sequence
from datetime import timedelta
from typing import Literal

from pydantic import BaseModel

from services.notify.adapters.deliveries import entry_for
from services.notify.adapters.repository import LOAD_BATCH, flush_sets
from services.notify.domain.audience import Claim, NeedView, RosterEntry, TeamView
from shared.cache import TtlCache
from shared.clock import Clock
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
from shared.mongo.client import Database, Document, insert_new

# Names of org units and the subscribers of a scope, answered from memory this long.
NAME_TTL = timedelta(seconds=30)
SCOPE_TTL = timedelta(seconds=5)
# Needs whose view is held in memory (those of recent events; older ones are read again).
NEED_VIEWS_HELD = 20_000


class ReadModel:
    """What notify knows of other services, built from their events: volunteers (one document
    each, mirrored in memory by community for matching), teams (a document each and one per
    member, mirrored in memory), org units, needs and claims.

    A registration costs O(1): the mirror changes in memory and the volunteer's document is
    written with the rest of its consumer batch (`flush`, one bulk write). The mirror is
    loaded at start-up (`load`); with several replicas each would hold only the communities
    of its partitions (one consumer replica today)."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.volunteers = db["volunteers"]
        self.teams = db["teams"]
        self.team_members = db["team_members"]
        self._teams: dict[str, TeamView] = {}
        self.org_units = db["org_units"]
        self.needs = db["needs"]
        self._members: dict[str, dict[str, RosterEntry]] = {}
        self._home: dict[str, str] = {}
        self._interests: dict[str, list[str]] = {}
        self._names: TtlCache[str, str | None] = TtlCache(NAME_TTL, self._load_name, clock=clock)
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
        self._names.forget(unit.path)
        await self.org_units.replace_one(
            {"_id": unit.path},
            {"_id": unit.path, "name": unit.name, "level": unit.level, "parent": unit.parent},
            upsert=True,
        )

    async def org_unit_name(self, path: str) -> str | None:
        """An org unit's name; answered from memory for NAME_TTL after a lookup."""
        return await self._names.get(path)

    async def _load_name(self, path: str) -> str | None:
        doc = await self.org_units.find_one({"_id": path}, {"name": 1})
        return str(doc["name"]) if doc else None

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


class _ScopeSubscribers(BaseModel):
    subscriptions: dict[str, str] = {}  # subscription id → recipient id


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


def _unique(ids: Sequence[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))
