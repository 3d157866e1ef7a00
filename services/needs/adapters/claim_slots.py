"""The district's caps on active claims, held by unique inserts.

FerretDB has no transactions and its conditional updates are not compare-and-set, so a count
of active claims read before a claim cannot bound concurrent claims. Instead a volunteer (or
organisation) with cap N owns at most N slot documents, `_id` = "<kind>:<id>:<n>" with
n < N: a claim takes one by inserting it before the need's commit, and gives it back when the
claim ends (released, expired, cancelled, completed) or its commit did not happen. The unique
`_id` decides races: 30 concurrent claims of one volunteer with cap 5 take exactly 5 slots.

A claim's slot ids are kept beside them (`claim_slot_sets`, `_id` = the claim id), so every
read and write here is by `_id` (the index our FerretDB build and MongoDB both use). A slot
left behind by a crash between its insert and the need's commit, or between the claim's end
and the release, is taken back when every slot is held: once it is older than
`STALE_SLOT_AFTER` and its claim is not active on its need (the handler decides that).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from services.needs.domain.eligibility import SlotHolder
from shared.mongo.client import Database, Document

# Longer than any claim's way from its slot insert to its commit (bounded retries, seconds).
STALE_SLOT_AFTER = timedelta(minutes=5)


def slot_id(holder: SlotHolder, n: int) -> str:
    return f"{holder.kind}:{holder.ident}:{n}"


@dataclass(frozen=True)
class Slot:
    id: str
    claim_id: str
    need_id: str
    taken_at: datetime


class ClaimSlots:
    def __init__(self, db: Database) -> None:
        self._slots = db["claim_slots"]
        self._sets = db["claim_slot_sets"]

    async def take(
        self, holder: SlotHolder, cap: int, need_id: str, claim_id: str, now: datetime
    ) -> str | None:
        """Inserts the lowest free slot below `cap` for the claim; None when all are held."""
        for n in range(cap):
            doc = {"_id": slot_id(holder, n), "claim_id": claim_id, "need_id": need_id}
            if await self._insert({**doc, "taken_at": now}):
                return str(doc["_id"])
        return None

    async def record(self, claim_id: str, need_id: str, slot_ids: list[str]) -> None:
        """Which slots the claim holds, for `release` to find them by `_id`."""
        await self._put_set(claim_id, {"need_id": need_id, "slot_ids": slot_ids})

    async def recorded(self, claim_id: str) -> bool:
        return await self._get_set(claim_id) is not None

    async def release(self, claim_id: str, slot_ids: list[str] | None = None) -> None:
        """Gives back the claim's slots (none held: nothing happens)."""
        if slot_ids is None:
            found = await self._get_set(claim_id)
            if found is None:
                return
            slot_ids = list(found["slot_ids"])
        for sid in slot_ids:
            await self._delete(sid, claim_id)
        await self._delete_set(claim_id)

    async def held(self, holder: SlotHolder, cap: int) -> list[Slot]:
        """The holder's slots below `cap`."""
        found = [await self._get(slot_id(holder, n)) for n in range(cap)]
        return [
            Slot(str(d["_id"]), str(d["claim_id"]), str(d["need_id"]), d["taken_at"])
            for d in found
            if d is not None
        ]

    async def drop(self, slot: Slot) -> bool:
        """Takes back a slot a crash left behind (unless another claim holds it by now)."""
        if not await self._delete(slot.id, slot.claim_id):
            return False
        await self._delete_set(slot.claim_id)
        return True

    # the I/O, one document by `_id` each (tests/fakes.py overrides these)

    async def _insert(self, doc: Document) -> bool:
        try:
            await self._slots.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def _get(self, sid: str) -> Document | None:
        return await self._slots.find_one({"_id": sid})

    async def _delete(self, sid: str, claim_id: str) -> bool:
        done = await self._slots.delete_one({"_id": sid, "claim_id": claim_id})
        return done.deleted_count == 1

    async def _put_set(self, claim_id: str, doc: Document) -> None:
        await self._sets.replace_one({"_id": claim_id}, doc, upsert=True)

    async def _get_set(self, claim_id: str) -> Document | None:
        return await self._sets.find_one({"_id": claim_id})

    async def _delete_set(self, claim_id: str) -> None:
        await self._sets.delete_one({"_id": claim_id})
