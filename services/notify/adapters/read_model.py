"""The notify service's read model of the needs and volunteers streams: who is
where, in which team, with which skills (the mirror notify addresses from).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from pydantic import BaseModel
from pymongo import UpdateOne

from services.notify.adapters.deliveries import entry_for
from services.notify.adapters.repository import upsert_bulk
from services.notify.domain.audience import Claim, NeedView, RosterEntry, TeamView
from shared.events.envelope import EventPayload
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
from shared.mongo.client import Database, Document

# Names of org units and the subscribers of a scope, answered from memory this long.
NAME_TTL_S = 30.0
SCOPE_TTL_S = 5.0


class ReadModel:
    """What notify knows of other services, built from their events: volunteers (one document
    each, mirrored in memory by community for matching), teams, org units, needs and claims.

    A registration costs O(1): the mirror changes in memory and the volunteer's document is
    written with the rest of its consumer batch (`flush`, one bulk write). The mirror is
    loaded at start-up (`load`); with several replicas each would hold only the communities
    of its partitions (one consumer replica today)."""

    def __init__(self, db: Database) -> None:
        self.volunteers = db["volunteers"]
        self.teams = db["teams"]
        self.org_units = db["org_units"]
        self.needs = db["needs"]
        self._members: dict[str, dict[str, RosterEntry]] = {}
        self._home: dict[str, str] = {}
        self._interests: dict[str, list[str]] = {}
        self._names: dict[str, tuple[float, str | None]] = {}
        self._pending: dict[str, Document] = {}
        self.loaded = False

    # volunteers

    async def load(self) -> None:
        """Fills the mirror from the stored documents (start-up; streamed, no list held)."""
        async for doc in self.volunteers.find({}):
            self._mirror(doc["_id"], doc)
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
        """Stores the volunteers changed since the last flush (the consumer's batch): one bulk
        write. Until it succeeds the batch's offsets are not committed."""
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        ops = [UpdateOne({"_id": vid}, {"$set": f}, upsert=True) for vid, f in pending.items()]
        try:
            await upsert_bulk(self.volunteers, ops)
        except BaseException:
            for vid, fields in pending.items():  # kept for the next try
                self._pending[vid] = {**fields, **self._pending.get(vid, {})}
            raise

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


class _ScopeSubscribers(BaseModel):
    subscriptions: dict[str, str] = {}  # subscription id → recipient id
