"""Digests and bursts: what waits to be sent together, per recipient and slot."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from services.notify.adapters.repository import AppendLog
from shared.mongo.client import Database, Document, insert_new


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
