"""The needs service's read model of the volunteers stream: org units, volunteers, teams,
organisations. Documents keyed by `_id` (path or id); every write is an idempotent upsert.
No document grows with the data: a team's members are one document each
(`<team id>:<volunteer id>`), so a join writes one small document and a claim checks only
the members it lists.

A redelivered older event must not undo a newer one: profile documents carry the time of
the event that wrote them (`as_of`) and are only replaced by a newer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from services.needs.domain.eligibility import (
    KnownOrganization,
    KnownOrgUnit,
    KnownTeam,
    KnownVolunteer,
)
from shared.cache import TtlCache
from shared.clock import Clock
from shared.events.volunteers import (
    DistrictRulesChanged,
    OrganizationRegistered,
    OrgUnitUpdated,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.mongo.client import Database, Document, find_by_ids, insert_new
from shared.rules import DEFAULT_RULES, DistrictRules, district_of

# How long a known org unit is answered from memory: every post names its community, and
# units are added or renamed rarely (a rename reaches other replicas within this time).
ORG_UNIT_TTL = timedelta(seconds=30)


class Directory:
    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.org_units = db["known_org_units"]
        self.volunteers = db["known_volunteers"]
        self.teams = db["known_teams"]
        self.team_members = db["known_team_members"]
        self.organizations = db["known_organizations"]
        self.district_rules = db["known_district_rules"]
        # an absent unit is not remembered: it may be announced any moment
        self._units: TtlCache[str, KnownOrgUnit | None] = TtlCache(
            ORG_UNIT_TTL, self._load_org_unit, clock=clock, keep=lambda u: u is not None
        )

    # reads -----------------------------------------------------------------------------

    async def org_unit(self, path: str) -> KnownOrgUnit | None:
        return await self._units.get(path)

    async def _load_org_unit(self, path: str) -> KnownOrgUnit | None:
        doc = await self.org_units.find_one({"_id": path})
        return None if doc is None else KnownOrgUnit(doc["_id"], doc["name"], doc["level"])

    async def volunteer(self, volunteer_id: str) -> KnownVolunteer | None:
        doc = await self.volunteers.find_one({"_id": volunteer_id})
        if doc is None:
            return None
        return KnownVolunteer(doc["_id"], doc["home_community_id"], bool(doc.get("active", True)))

    async def team(self, team_id: str, candidates: Sequence[str] = ()) -> KnownTeam | None:
        """The team, with those of `candidates` who are its members (one `_id` lookup each,
        side by side) as its `member_ids`."""
        doc = await self.teams.find_one({"_id": team_id})
        if doc is None:
            return None
        wanted = list(dict.fromkeys(candidates))
        found = await find_by_ids(self.team_members, [member_id(team_id, m) for m in wanted])
        legacy = set(doc.get("member_ids", []))  # lists stored before members had documents
        members = [m for m in wanted if member_id(team_id, m) in found or m in legacy]
        return KnownTeam(
            id=doc["_id"],
            community_id=doc.get("community_id"),
            leader_id=doc.get("leader_id"),
            member_ids=tuple(members),
        )

    async def organization(self, organization_id: str) -> KnownOrganization | None:
        doc = await self.organizations.find_one({"_id": organization_id})
        return None if doc is None else KnownOrganization(doc["_id"], doc["community_id"])

    async def rules(self, path: str) -> DistrictRules:
        """The local rules of the path's district (the defaults until it sets its own)."""
        doc = await self.district_rules.find_one({"_id": district_of(path)})
        if doc is None:
            return DEFAULT_RULES
        return DistrictRules.model_validate(doc["rules"])

    # writes (from events) --------------------------------------------------------------

    async def record_rules(self, e: DistrictRulesChanged) -> None:
        rules = DistrictRules.of_event(e)
        await self._replace_if_newer(
            self.district_rules, e.district, {"rules": rules.model_dump()}, e.changed_at
        )

    async def record_org_unit(self, e: OrgUnitUpdated) -> None:
        await self._replace_if_newer(
            self.org_units,
            e.path,
            {"name": e.name, "level": e.level, "parent": e.parent},
            e.updated_at,
        )
        self._units.forget(e.path)  # this replica reads the stored (newest) one next

    async def record_volunteer(self, e: VolunteerRegistered) -> None:
        as_of = e.updated_at if isinstance(e, VolunteerUpdated) else e.registered_at
        await self._replace_if_newer(
            self.volunteers,
            e.volunteer_id,
            {
                "name": e.name,
                "home_community_id": e.home_community_id,
                "skills": e.skills,
                "active": e.active,
            },
            as_of,
        )

    async def record_organization(self, e: OrganizationRegistered) -> None:
        await self._replace_if_newer(
            self.organizations,
            e.organization_id,
            {"name": e.name, "kind": e.kind, "community_id": e.community_id},
            e.registered_at,
        )

    async def record_team_formed(self, e: TeamFormed) -> None:
        await self.teams.update_one(
            {"_id": e.team_id},
            {
                "$set": {
                    "community_id": e.community_id,
                    "name": e.name,
                    "service_type": e.service_type,
                    "leader_id": e.leader_id,
                }
            },
            upsert=True,
        )
        await self._add_members(e.team_id, [*e.member_ids, e.leader_id])

    async def record_member_joined(self, e: TeamMemberJoined) -> None:
        await self.teams.update_one(
            {"_id": e.team_id}, {"$set": {"community_id": e.community_id}}, upsert=True
        )
        await self._add_members(e.team_id, [e.volunteer_id])

    async def record_leader_changed(self, e: TeamLeaderChanged) -> None:
        await self.teams.update_one(
            {"_id": e.team_id},
            {"$set": {"community_id": e.community_id, "leader_id": e.leader_id}},
            upsert=True,
        )
        await self._add_members(e.team_id, [e.leader_id])

    async def _add_members(self, team_id: str, volunteer_ids: Sequence[str]) -> None:
        """One document per member, inserted once (a redelivered event finds it there)."""
        docs = [
            {"_id": member_id(team_id, v), "team_id": team_id, "volunteer_id": v}
            for v in dict.fromkeys(volunteer_ids)
        ]
        await insert_new(self.team_members, docs)

    @staticmethod
    async def _replace_if_newer(
        collection: AsyncCollection[Document], key: str, fields: Document, as_of: datetime
    ) -> None:
        doc = {**fields, "_id": key, "as_of": as_of}
        try:
            await collection.replace_one({"_id": key, "as_of": {"$lte": as_of}}, doc, upsert=True)
        except DuplicateKeyError:
            pass  # a newer version is already there


def member_id(team_id: str, volunteer_id: str) -> str:
    return f"{team_id}:{volunteer_id}"
