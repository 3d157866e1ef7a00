"""MongoDB adapter of the volunteers service: each aggregate as numbered commits.

Long because the service's four aggregates (org units, volunteers, organisations and teams,
passbooks) share one store and its unit of work; each has a short section below.

Lookups go by `_id` (paths and derived ids). The volunteers list is chosen by an in-memory
index (services/volunteers/domain/listing.py); the other lists scan the head documents, which
is what FerretDB does for any other filter anyway (a community has a few organisations and
teams).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from services.volunteers.domain.certificates import Certificate
from services.volunteers.domain.listing import (
    PROJECTION,
    VOLUNTEER_EVENTS,
    ListedVolunteer,
    listed_volunteer,
    within,
)
from services.volunteers.domain.org_unit import OrgUnit
from services.volunteers.domain.organization import Organization
from services.volunteers.domain.passbook import LedgerEntry, Passbook
from services.volunteers.domain.supermarket import Item, Reservation, Unit
from services.volunteers.domain.team import Team
from services.volunteers.domain.volunteer import Volunteer
from services.volunteers.settings import VolunteersSettings
from shared.categories import skill_slug
from shared.events.envelope import EventPayload
from shared.listed_heads import ListedHeads
from shared.mongo.client import Document, find_by_ids
from shared.mongo.indexes import Index
from shared.mongo.store import AggregateStore, NewCommit, commit_id
from shared.mongo.unit_of_work import UnitOfWork
from shared.orgpath import OrgPath
from shared.rules import DEFAULT_RULES, DistrictRules

M = TypeVar("M", bound=BaseModel)
# On MongoDB, for the filters still sent (the volunteers list asks the list index).
INDEXES = (
    Index("org_units", (("parent", 1), ("_id", 1))),
    Index("org_units", (("name", 1), ("level", 1))),
    Index("organizations", (("community_id", 1), ("_id", 1))),
    Index("teams", (("community_id", 1), ("_id", 1))),
    Index("shop_items", (("community_id", 1), ("_id", 1))),
    Index("shop_units", (("item_id", 1), ("holder", 1))),
    Index("reservations", (("status", 1), ("expires_at", 1))),
)


def _model(cls: type[M], doc: Document) -> M:
    return cls.model_validate({k: v for k, v in doc.items() if k not in ("_id", "_version")})


def _json_time(moment: datetime) -> str:
    """A time as the JSON-dumped states store it (ISO, UTC 'Z'), so strings compare as times."""
    return str(TypeAdapter(datetime).dump_python(moment.astimezone(UTC), mode="json"))


def scope_filter(field: str, scope: str) -> Document:
    return OrgPath(scope).mongo_filter(field)


class VolunteersRepository:
    def __init__(
        self,
        stores: Callable[[str], AggregateStore],
        settings: VolunteersSettings,
        now: Callable[[], datetime],
    ) -> None:
        """`stores` makes the store of an aggregate by name (on the service's database)."""

        self._stores: dict[str, AggregateStore] = {}

        def unit(name: str, model: type[M]) -> UnitOfWork[M]:
            self._stores[name] = stores(name)
            return UnitOfWork(self._stores[name], model, settings.topics.volunteers, now)

        self.orgs = unit("org_units", OrgUnit)
        self.volunteers = unit("volunteers", Volunteer)
        self.volunteer_lists = ListedHeads(
            "volunteers",
            self._stores["volunteers"],
            settings,
            settings.topics.volunteers,
            listed_volunteer,
            entry_type=ListedVolunteer,
            descending=False,
            follows=lambda event: event.type in VOLUNTEER_EVENTS,
            projection=PROJECTION,
        )
        self.organizations = unit("organizations", Organization)
        self.teams = unit("teams", Team)
        self.passbooks = unit("passbooks", Passbook)
        self.district_rules = unit("district_rules", DistrictRules)
        self.certificates = unit("certificates", Certificate)
        self.shop_items = unit("shop_items", Item)
        self.shop_units = unit("shop_units", Unit)
        self.reservations = unit("reservations", Reservation)

    # --- org tree
    async def get_org(self, path: str) -> tuple[OrgUnit | None, int]:
        return await self.orgs.get(path)

    async def save_org(
        self, unit: OrgUnit, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self.orgs.commit(unit.path, unit, version, events, cid)

    async def communities_named(self, name: str, scope: str) -> list[OrgUnit]:
        """The communities called `name` inside `scope` (an import names them, not paths)."""
        query = {**scope_filter("path", scope), "name": name, "level": "community"}
        docs = self._stores["org_units"].heads.find(query).sort("_id", 1)
        return [_model(OrgUnit, d) async for d in docs]

    async def children(self, path: str) -> list[OrgUnit]:
        docs = self._stores["org_units"].heads.find({"parent": path}).sort("_id", 1)
        return [_model(OrgUnit, d) async for d in docs]

    # --- love supermarket
    async def get_item(self, item_id: str) -> tuple[Item | None, int]:
        return await self.shop_items.get(item_id)

    async def save_item(
        self, item: Item, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self.shop_items.commit(item.id, item, version, events, cid)

    async def list_items(self, community_id: str) -> list[Item]:
        docs = self._stores["shop_items"].heads.find({"community_id": community_id}).sort("_id", 1)
        return [_model(Item, d) async for d in docs]

    async def add_units(self, units: Sequence[Unit]) -> None:
        """Version-1 commits of new units; ones already there are left as they are."""
        await self._stores["shop_units"].commit_many(
            [NewCommit(u.id, 0, u.model_dump(mode="json")) for u in units]
        )

    async def get_unit(self, unit_id: str) -> tuple[Unit | None, int]:
        return await self.shop_units.get(unit_id)

    async def save_unit(self, unit: Unit, version: int) -> int:
        return await self.shop_units.commit(unit.id, unit, version, [], None)

    async def free_units(self, item_id: str) -> list[str]:
        """Units the heads show free (a head may lag: the commit insert decides)."""
        query = {"item_id": item_id, "holder": None, "handed_over": False}
        return [
            str(d["_id"]) async for d in self._stores["shop_units"].heads.find(query, {"_id": 1})
        ]

    async def get_reservation(self, reservation_id: str) -> tuple[Reservation | None, int]:
        return await self.reservations.get(reservation_id)

    async def save_reservation(
        self, r: Reservation, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self.reservations.commit(r.id, r, version, events, cid)

    async def reservations_to_settle(self, now: datetime, limit: int = 500) -> list[str]:
        """Reservations past their time while held or pending, or lapsed/failed and not
        yet settled (a crash between the steps)."""
        query = {
            "$or": [
                {"status": {"$in": ["held", "pending"]}, "expires_at": {"$lte": _json_time(now)}},
                {"status": {"$in": ["lapsed", "failed"]}, "settled": False},
            ]
        }
        docs = self._stores["reservations"].heads.find(query, {"_id": 1}).limit(limit)
        return [str(d["_id"]) async for d in docs]

    # --- certificates
    async def get_certificate(self, serial: str) -> tuple[Certificate | None, int]:
        return await self.certificates.get(serial)

    async def save_certificate(
        self, cert: Certificate, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self.certificates.commit(cert.serial, cert, version, events, cid)

    async def count_certificates(self, prefix: str) -> int:
        """Serials issued under `TX-<district>-<year>-`: where the next number is tried."""
        query = {"_id": {"$regex": f"^{re.escape(prefix)}"}}
        return await self._stores["certificates"].heads.count_documents(query)

    # --- local rules
    async def get_rules_version(self, district: str) -> tuple[DistrictRules, int]:
        rules, version = await self.district_rules.get(district)
        return rules or DEFAULT_RULES, version

    async def get_rules(self, district: str) -> DistrictRules:
        return (await self.get_rules_version(district))[0]

    async def save_rules(
        self,
        district: str,
        rules: DistrictRules,
        version: int,
        events: Sequence[EventPayload],
        cid: str | None,
    ) -> int:
        return await self.district_rules.commit(district, rules, version, events, cid)

    # --- volunteers
    async def get_volunteer(self, volunteer_id: str) -> tuple[Volunteer | None, int]:
        return await self.volunteers.get(volunteer_id)

    async def save_volunteer(
        self, v: Volunteer, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self.volunteers.commit(v.id, v, version, events, cid)

    async def register_many(
        self, registrations: Sequence[tuple[Volunteer, Sequence[EventPayload]]], cid: str | None
    ) -> list[bool]:
        """Version-1 commits of many volunteers at once; False where the id was taken."""
        return await self._stores["volunteers"].commit_many(
            [
                NewCommit(
                    v.id, 0, v.model_dump(mode="json"), self.volunteers.envelopes(events, cid)
                )
                for v, events in registrations
            ]
        )

    async def list_volunteers(
        self,
        scope: str,
        *,
        skill: str | None,
        q: str | None,
        include_inactive: bool,
        cursor: str | None,
        limit: int,
    ) -> tuple[list[Volunteer], str | None]:
        """Volunteers of `scope` in id order, chosen by the list index, fetched by `_id`."""
        slug = (skill_slug(skill) or skill) if skill else None  # 理发 finds haircut
        docs = await self.volunteer_lists.page(
            [within(scope)],
            (cursor,) if cursor else None,
            limit + 1,
            lambda v: v.matches(skill=slug, q=q or None, include_inactive=include_inactive),
        )
        items = [_model(Volunteer, d) for d in docs[:limit]]
        return items, str(docs[limit - 1]["_id"]) if len(docs) > limit else None

    async def _page(
        self,
        store: str,
        cls: type[M],
        query: dict[str, Any],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[M], str | None]:
        if cursor:
            query = {**query, "_id": {"$gt": cursor}}
        docs = await self._stores[store].heads.find(query).sort("_id", 1).limit(limit + 1).to_list()
        items = [_model(cls, d) for d in docs[:limit]]
        next_cursor = str(docs[limit - 1]["_id"]) if len(docs) > limit else None
        return items, next_cursor

    # --- organisations and teams
    async def get_organization(self, org_id: str) -> tuple[Organization | None, int]:
        return await self.organizations.get(org_id)

    async def save_organization(
        self, org: Organization, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self.organizations.commit(org.id, org, version, events, cid)

    async def list_organizations(
        self, scope: str, cursor: str | None, limit: int
    ) -> tuple[list[Organization], str | None]:
        query = scope_filter("community_id", scope)
        return await self._page("organizations", Organization, query, cursor, limit)

    async def get_team(self, team_id: str) -> tuple[Team | None, int]:
        return await self.teams.get(team_id)

    async def save_team(
        self, team: Team, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self.teams.commit(team.id, team, version, events, cid)

    async def list_teams(
        self, scope: str, service_type: str | None, cursor: str | None, limit: int
    ) -> tuple[list[Team], str | None]:
        query = scope_filter("community_id", scope)
        if service_type:
            query["service_type"] = service_type
        return await self._page("teams", Team, query, cursor, limit)

    # --- passbooks
    async def get_passbook(self, volunteer_id: str) -> tuple[Passbook | None, int]:
        return await self.passbooks.get(volunteer_id)

    async def save_passbook(
        self,
        passbook: Passbook,
        version: int,
        entry: LedgerEntry,
        events: Sequence[EventPayload],
        cid: str | None,
    ) -> int:
        """One commit per ledger entry: the entry rides in the commit's meta."""
        meta = {"entry": entry.model_dump(mode="json")}
        return await self.passbooks.commit(
            passbook.volunteer_id, passbook, version, events, cid, meta
        )

    async def ledger(self, volunteer_id: str, version: int, limit: int) -> list[LedgerEntry]:
        """The newest `limit` entries, newest first: the commits looked up by `_id`."""
        ids = [commit_id(volunteer_id, v) for v in range(version, max(0, version - limit), -1)]
        found = await find_by_ids(self._stores["passbooks"].commits, ids)
        return [
            LedgerEntry.model_validate(found[i]["meta"]["entry"])
            for i in ids
            if i in found and "entry" in found[i].get("meta", {})
        ]
