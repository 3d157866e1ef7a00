"""MongoDB adapter of the volunteers service: each aggregate as numbered commits.

Lookups go by `_id` (paths and derived ids); lists scan the head documents, which is what
FerretDB does for any other filter anyway (a district is ~5,000 volunteers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from services.volunteers.certificates import Certificate
from services.volunteers.domain import Organization, OrgUnit, Team, Volunteer
from services.volunteers.passbook import LedgerEntry, Passbook
from services.volunteers.supermarket import Item, Reservation, Unit
from shared.events.envelope import CloudEvent, EventPayload
from shared.mongo.client import Database, Document, find_by_ids
from shared.mongo.store import AggregateStore, NewCommit, commit_id
from shared.rules import DEFAULT_RULES, DistrictRules
from shared.settings import Settings

M = TypeVar("M", bound=BaseModel)


def _model(cls: type[M], doc: Document) -> M:
    return cls.model_validate({k: v for k, v in doc.items() if k not in ("_id", "_version")})


def _json_time(moment: datetime) -> str:
    """A time as the JSON-dumped states store it (ISO, UTC 'Z'), so strings compare as times."""
    return str(TypeAdapter(datetime).dump_python(moment.astimezone(UTC), mode="json"))


def scope_filter(field: str, scope: str) -> Document:
    return {field: {"$regex": f"^{re.escape(scope)}(\\.|$)"}}


class VolunteersRepository:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.orgs = AggregateStore(db, "org_units")
        self.volunteers = AggregateStore(db, "volunteers")
        self.organizations = AggregateStore(db, "organizations")
        self.teams = AggregateStore(db, "teams")
        self.passbooks = AggregateStore(db, "passbooks")
        self.district_rules = AggregateStore(db, "district_rules")
        self.certificates = AggregateStore(db, "certificates")
        self.shop_items = AggregateStore(db, "shop_items")
        self.shop_units = AggregateStore(db, "shop_units")
        self.reservations = AggregateStore(db, "reservations")
        self._topic = settings.topics.volunteers

    def envelopes(
        self, events: Sequence[EventPayload], correlation_id: str | None
    ) -> list[tuple[str, CloudEvent]]:
        return [(self._topic, CloudEvent.wrap(e, correlation_id=correlation_id)) for e in events]

    async def _get(self, store: AggregateStore, cls: type[M], ident: str) -> tuple[M | None, int]:
        state, version = await store.load(ident)
        return (cls.model_validate(state) if state else None), version

    async def _save(
        self,
        store: AggregateStore,
        ident: str,
        obj: BaseModel,
        expected_version: int,
        events: Sequence[EventPayload],
        correlation_id: str | None,
        meta: Document | None = None,
    ) -> int:
        return await store.commit(
            ident,
            expected_version,
            obj.model_dump(mode="json"),
            self.envelopes(events, correlation_id),
            meta,
        )

    # --- org tree
    async def get_org(self, path: str) -> tuple[OrgUnit | None, int]:
        return await self._get(self.orgs, OrgUnit, path)

    async def save_org(
        self, unit: OrgUnit, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self._save(self.orgs, unit.path, unit, version, events, cid)

    async def children(self, path: str) -> list[OrgUnit]:
        docs = self.orgs.heads.find({"parent": path}).sort("_id", 1)
        return [_model(OrgUnit, d) async for d in docs]

    # --- love supermarket
    async def get_item(self, item_id: str) -> tuple[Item | None, int]:
        return await self._get(self.shop_items, Item, item_id)

    async def save_item(
        self, item: Item, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self._save(self.shop_items, item.id, item, version, events, cid)

    async def list_items(self, community_id: str) -> list[Item]:
        docs = self.shop_items.heads.find({"community_id": community_id}).sort("_id", 1)
        return [_model(Item, d) async for d in docs]

    async def add_units(self, units: Sequence[Unit]) -> None:
        """Version-1 commits of new units; ones already there are left as they are."""
        await self.shop_units.commit_many(
            [NewCommit(u.id, 0, u.model_dump(mode="json")) for u in units]
        )

    async def get_unit(self, unit_id: str) -> tuple[Unit | None, int]:
        return await self._get(self.shop_units, Unit, unit_id)

    async def save_unit(self, unit: Unit, version: int) -> int:
        return await self._save(self.shop_units, unit.id, unit, version, [], None)

    async def free_units(self, item_id: str) -> list[str]:
        """Units the heads show free (a head may lag: the commit insert decides)."""
        query = {"item_id": item_id, "holder": None, "handed_over": False}
        return [str(d["_id"]) async for d in self.shop_units.heads.find(query, {"_id": 1})]

    async def get_reservation(self, reservation_id: str) -> tuple[Reservation | None, int]:
        return await self._get(self.reservations, Reservation, reservation_id)

    async def save_reservation(
        self, r: Reservation, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self._save(self.reservations, r.id, r, version, events, cid)

    async def reservations_to_settle(self, now: datetime, limit: int = 500) -> list[str]:
        """Reservations past their time while held or pending, or lapsed/failed and not
        yet settled (a crash between the steps)."""
        query = {
            "$or": [
                {"status": {"$in": ["held", "pending"]}, "expires_at": {"$lte": _json_time(now)}},
                {"status": {"$in": ["lapsed", "failed"]}, "settled": False},
            ]
        }
        docs = self.reservations.heads.find(query, {"_id": 1}).limit(limit)
        return [str(d["_id"]) async for d in docs]

    # --- certificates
    async def get_certificate(self, serial: str) -> tuple[Certificate | None, int]:
        return await self._get(self.certificates, Certificate, serial)

    async def save_certificate(
        self, cert: Certificate, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self._save(self.certificates, cert.serial, cert, version, events, cid)

    async def count_certificates(self, prefix: str) -> int:
        """Serials issued under `TX-<district>-<year>-`: where the next number is tried."""
        query = {"_id": {"$regex": f"^{re.escape(prefix)}"}}
        return await self.certificates.heads.count_documents(query)

    # --- local rules
    async def get_rules_version(self, district: str) -> tuple[DistrictRules, int]:
        state, version = await self.district_rules.load(district)
        return (DistrictRules.model_validate(state) if state else DEFAULT_RULES), version

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
        return await self._save(self.district_rules, district, rules, version, events, cid)

    # --- volunteers
    async def get_volunteer(self, volunteer_id: str) -> tuple[Volunteer | None, int]:
        return await self._get(self.volunteers, Volunteer, volunteer_id)

    async def save_volunteer(
        self, v: Volunteer, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self._save(self.volunteers, v.id, v, version, events, cid)

    async def register_many(
        self, registrations: Sequence[tuple[Volunteer, Sequence[EventPayload]]], cid: str | None
    ) -> list[bool]:
        """Version-1 commits of many volunteers at once; False where the id was taken."""
        return await self.volunteers.commit_many(
            [
                NewCommit(v.id, 0, v.model_dump(mode="json"), self.envelopes(events, cid))
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
        query: dict[str, Any] = scope_filter("home_community_id", scope)
        if skill:
            query["skills"] = skill
        if q:
            query["name"] = {"$regex": re.escape(q), "$options": "i"}
        if not include_inactive:
            query["active"] = True
        return await self._page(self.volunteers, Volunteer, query, cursor, limit)

    async def _page(
        self,
        store: AggregateStore,
        cls: type[M],
        query: dict[str, Any],
        cursor: str | None,
        limit: int,
    ) -> tuple[list[M], str | None]:
        if cursor:
            query = {**query, "_id": {"$gt": cursor}}
        docs = await store.heads.find(query).sort("_id", 1).limit(limit + 1).to_list()
        items = [_model(cls, d) for d in docs[:limit]]
        next_cursor = str(docs[limit - 1]["_id"]) if len(docs) > limit else None
        return items, next_cursor

    # --- organisations and teams
    async def get_organization(self, org_id: str) -> tuple[Organization | None, int]:
        return await self._get(self.organizations, Organization, org_id)

    async def save_organization(
        self, org: Organization, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self._save(self.organizations, org.id, org, version, events, cid)

    async def list_organizations(
        self, scope: str, cursor: str | None, limit: int
    ) -> tuple[list[Organization], str | None]:
        query = scope_filter("community_id", scope)
        return await self._page(self.organizations, Organization, query, cursor, limit)

    async def get_team(self, team_id: str) -> tuple[Team | None, int]:
        return await self._get(self.teams, Team, team_id)

    async def save_team(
        self, team: Team, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self._save(self.teams, team.id, team, version, events, cid)

    async def list_teams(
        self, scope: str, service_type: str | None, cursor: str | None, limit: int
    ) -> tuple[list[Team], str | None]:
        query = scope_filter("community_id", scope)
        if service_type:
            query["service_type"] = service_type
        return await self._page(self.teams, Team, query, cursor, limit)

    # --- passbooks
    async def get_passbook(self, volunteer_id: str) -> tuple[Passbook | None, int]:
        return await self._get(self.passbooks, Passbook, volunteer_id)

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
        return await self._save(
            self.passbooks, passbook.volunteer_id, passbook, version, events, cid, meta
        )

    async def ledger(self, volunteer_id: str, version: int, limit: int) -> list[LedgerEntry]:
        """The newest `limit` entries, newest first: the commits looked up by `_id`."""
        ids = [commit_id(volunteer_id, v) for v in range(version, max(0, version - limit), -1)]
        found = await find_by_ids(self.passbooks.commits, ids)
        return [
            LedgerEntry.model_validate(found[i]["meta"]["entry"])
            for i in ids
            if i in found and "entry" in found[i].get("meta", {})
        ]
