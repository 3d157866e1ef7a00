"""MongoDB adapter of the identity service.

Where two requests may race (the same code tried twice, a refresh token used twice, the
first sign-in of a phone), a unique `_id` insert decides, as in `shared.mongo.store`:
FerretDB has no atomic compare-and-set. Appointments are aggregates with an outbox.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.identity.domain.person import Appointment, Person, VolunteerLink
from shared.events.envelope import CloudEvent, EventPayload
from shared.mongo.client import Database, Document
from shared.mongo.store import AggregateStore
from shared.settings import Settings


def _clean(doc: Document) -> Document:
    return {k: v for k, v in doc.items() if k not in ("_id", "_version")}


class IdentityRepository:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.people = db["people"]
        self.phones = db["phones"]  # normalised phone → person id (the first sign-in's arbiter)
        self.codes = db["codes"]
        self.code_attempts = db["code_attempts"]
        self.code_used = db["code_used"]
        self.sessions = db["sessions"]
        self.refresh_tokens = db["refresh_tokens"]
        self.refresh_used = db["refresh_used"]
        self.org_units = db["org_units"]
        self.volunteers = db["volunteer_links"]
        self.teams = db["team_leaders"]
        self.appointments = AggregateStore(db, "appointments")
        self._topic = settings.topics.identity

    def envelopes(
        self, events: Sequence[EventPayload], cid: str | None
    ) -> list[tuple[str, CloudEvent]]:
        return [(self._topic, CloudEvent.wrap(e, correlation_id=cid)) for e in events]

    # --- people
    async def person_by_phone(self, phone: str) -> Person | None:
        link = await self.phones.find_one({"_id": phone})
        return await self.person(str(link["person_id"])) if link else None

    async def person(self, person_id: str) -> Person | None:
        doc = await self.people.find_one({"_id": person_id})
        return Person.model_validate(_clean(doc)) if doc else None

    async def ensure_person(self, phone: str, now: datetime) -> Person:
        """The person of this phone, made on first sign-in (or first appointment)."""
        found = await self.person_by_phone(phone)
        if found is not None:
            return found
        person = Person(
            id=f"person-{uuid.uuid4().hex[:20]}", phone=phone, created_at=now, updated_at=now
        )
        await self.people.insert_one({"_id": person.id, **person.model_dump()})
        try:
            await self.phones.insert_one({"_id": phone, "person_id": person.id})
        except DuplicateKeyError:
            await self.people.delete_one({"_id": person.id})  # another request was first
            winner = await self.person_by_phone(phone)
            assert winner is not None
            return winner
        return person

    async def save_person(self, person: Person) -> None:
        await self.people.replace_one({"_id": person.id}, {"_id": person.id, **person.model_dump()})

    # --- sign-in codes
    async def record_code(self, doc: Document) -> None:
        await self.codes.insert_one(doc)

    async def forget_code(self, code_id: str) -> None:
        await self.codes.delete_one({"_id": code_id})

    async def sends_since(self, field: str, value: str, since: datetime) -> list[Document]:
        docs = self.codes.find({field: value, "created_at": {"$gte": since}}, {"hash": 0})
        return await docs.sort("created_at", 1).to_list()

    async def newest_code(self, phone: str) -> Document | None:
        docs = await self.codes.find({"phone": phone}).sort("created_at", -1).limit(1).to_list()
        return docs[0] if docs else None

    async def count_attempt(self, code_id: str) -> int:
        """Records one try of a code, then counts the tries so far (this one included)."""
        await self.code_attempts.insert_one({"_id": uuid.uuid4().hex, "code_id": code_id})
        return await self.code_attempts.count_documents({"code_id": code_id})

    async def use_code(self, code_id: str) -> bool:
        """True for exactly one caller: a code signs in once."""
        try:
            await self.code_used.insert_one({"_id": code_id})
        except DuplicateKeyError:
            return False
        return True

    async def code_was_used(self, code_id: str) -> bool:
        return await self.code_used.find_one({"_id": code_id}) is not None

    # --- sessions and refresh tokens
    async def save_session(self, session: Document) -> None:
        await self.sessions.replace_one({"_id": session["_id"]}, session, upsert=True)

    async def session(self, sid: str) -> Document | None:
        return await self.sessions.find_one({"_id": sid})

    async def revoke_session(self, sid: str, now: datetime, why: str) -> None:
        await self.sessions.update_one(
            {"_id": sid}, {"$set": {"revoked_at": now, "revoked_because": why}}
        )

    async def save_refresh(self, doc: Document) -> None:
        await self.refresh_tokens.insert_one(doc)

    async def refresh(self, token_id: str) -> Document | None:
        return await self.refresh_tokens.find_one({"_id": token_id})

    async def spend_refresh(self, token_id: str) -> bool:
        """True for exactly one caller: a refresh token rotates once; a second use is reuse."""
        try:
            await self.refresh_used.insert_one({"_id": token_id})
        except DuplicateKeyError:
            return False
        return True

    # --- read models from the volunteers stream
    async def put_org_unit(self, path: str, doc: Document) -> None:
        current = await self.org_units.find_one({"_id": path}, {"updated_at": 1})
        if current is not None and current["updated_at"] > doc["updated_at"]:
            return  # an older rename arriving late
        await self.org_units.replace_one({"_id": path}, {"_id": path, **doc}, upsert=True)

    async def org_unit(self, path: str) -> Document | None:
        return await self.org_units.find_one({"_id": path})

    async def org_units_by_ids(self, paths: Sequence[str]) -> dict[str, Document]:
        found = [await self.org_units.find_one({"_id": p}) for p in dict.fromkeys(paths)]
        return {d["_id"]: d for d in found if d is not None}

    async def search_org_units(self, q: str, levels: Sequence[str], limit: int) -> list[Document]:
        query: dict[str, Any] = {"level": {"$in": list(levels)}}
        if q:
            query["name"] = {"$regex": re.escape(q)}
        return await self.org_units.find(query).sort("_id", 1).limit(limit).to_list()

    async def put_volunteer(self, volunteer_id: str, doc: Document) -> None:
        current = await self.volunteers.find_one({"_id": volunteer_id}, {"at": 1})
        if current is not None and current["at"] > doc["at"]:
            return
        await self.volunteers.replace_one(
            {"_id": volunteer_id}, {"_id": volunteer_id, **doc}, upsert=True
        )

    async def volunteers_of(self, link: str) -> list[VolunteerLink]:
        docs = await self.volunteers.find({"phone_link": link}).sort("_id", 1).to_list()
        teams = (
            await self.teams.find({"leader_id": {"$in": [d["_id"] for d in docs]}}).to_list()
            if docs
            else []
        )
        return [
            VolunteerLink(
                volunteer_id=d["_id"],
                community_id=d["community_id"],
                name=d["name"],
                active=d["active"],
                leads_teams=[t["_id"] for t in teams if t["leader_id"] == d["_id"]],
            )
            for d in docs
        ]

    async def put_team_leader(self, team_id: str, leader_id: str, at: datetime) -> None:
        current = await self.teams.find_one({"_id": team_id}, {"at": 1})
        if current is not None and current["at"] > at:
            return
        await self.teams.replace_one(
            {"_id": team_id}, {"_id": team_id, "leader_id": leader_id, "at": at}, upsert=True
        )

    # --- appointments
    async def appointment(self, appointment_id: str) -> tuple[Appointment | None, int]:
        state, version = await self.appointments.load(appointment_id)
        return (Appointment.model_validate(state) if state else None), version

    async def save_appointment(
        self, a: Appointment, version: int, events: Sequence[EventPayload], cid: str | None
    ) -> int:
        return await self.appointments.commit(
            a.id, version, a.model_dump(mode="json"), self.envelopes(events, cid)
        )

    async def appointments_of(self, person_id: str) -> list[Appointment]:
        docs = self.appointments.heads.find({"person_id": person_id, "active": True})
        return [Appointment.model_validate(_clean(d)) async for d in docs]

    async def appointments_in(self, scope: str, include_ended: bool) -> list[Appointment]:
        query: dict[str, Any] = {"scope": {"$regex": f"^{re.escape(scope)}(\\.|$)"}}
        if not include_ended:
            query["active"] = True
        docs = self.appointments.heads.find(query).sort("_id", 1)
        return [Appointment.model_validate(_clean(d)) async for d in docs]
