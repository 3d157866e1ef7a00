"""The in-app inbox: each recipient's notifications, newest first, and their live stream.

Items are `<recipient>:<seq>` in an AppendLog, so a page is a handful of `_id` lookups. The
live stream is an in-process publish/subscribe fed by the inbox writes: a client connected
to one replica hears what that replica delivers (one replica today; several would need a
shared channel such as a Kafka topic of inbox items).
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.notify.adapters.repository import AppendLog, flush_max
from services.notify.domain.delivery import Delivery
from shared.mongo.client import Database, Document, find_by_ids, insert_new

# A retry after an interrupted attempt looks this far back for the item it may have written.
RECOVERY_WINDOW = 50
_LOCK_STRIPES = 64


@dataclass(frozen=True)
class InboxEntry:
    delivery_id: str
    recipient_id: str
    event_id: str
    type: str
    subject: str
    title: str
    body: str
    need_id: str | None
    community_id: str
    created_at: datetime


def public(item: Document) -> dict[str, Any]:
    return {
        "id": item["_id"],
        "event_id": item["event_id"],
        "type": item["type"],
        "subject": item["subject"],
        "title": item["title"],
        "body": item["body"],
        "need_id": item.get("need_id"),
        "community_id": item.get("community_id"),
        "read": bool(item.get("read")),
        "created_at": item["created_at"],
        "read_at": item.get("read_at"),
    }


class InboxHub:
    """Live subscribers per recipient. Slow clients lose items rather than stall delivery."""

    def __init__(self, queue_size: int = 100) -> None:
        self._subscribers: dict[str, set[asyncio.Queue[dict[str, Any] | None]]] = defaultdict(set)
        self._size = queue_size

    def subscribe(self, recipient_id: str) -> asyncio.Queue[dict[str, Any] | None]:
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(self._size)
        self._subscribers[recipient_id].add(queue)
        return queue

    def unsubscribe(self, recipient_id: str, queue: asyncio.Queue[dict[str, Any] | None]) -> None:
        subs = self._subscribers.get(recipient_id)
        if subs is not None:
            subs.discard(queue)
            if not subs:
                del self._subscribers[recipient_id]

    def publish(self, recipient_id: str, item: dict[str, Any]) -> None:
        for queue in list(self._subscribers.get(recipient_id, ())):
            try:
                queue.put_nowait(item)
            except asyncio.QueueFull:
                pass

    def close(self) -> None:
        """Ends every stream (shutdown)."""
        for subs in self._subscribers.values():
            for queue in subs:
                try:
                    queue.put_nowait(None)
                except asyncio.QueueFull:
                    pass

    @property
    def clients(self) -> int:
        return sum(len(s) for s in self._subscribers.values())


class Inbox:
    def __init__(self, db: Database, hub: InboxHub) -> None:
        self.log = AppendLog(db, "inbox")
        self.hub = hub
        # Appends and read marks of one recipient are serialised in this process, so that the
        # head's counters stay exact (FerretDB updates read, then write).
        self._locks = [asyncio.Lock() for _ in range(_LOCK_STRIPES)]
        self._last: dict[str, int] = {}  # the last item number this process gave out
        # Heads to advance at the next `flush` (a head's `last` is only a hint).
        self._heads: dict[str, int] = {}

    def _lock(self, recipient_id: str) -> asyncio.Lock:
        digest = hashlib.blake2s(recipient_id.encode(), digest_size=2).digest()
        return self._locks[int.from_bytes(digest) % _LOCK_STRIPES]

    async def learn(self, recipient_ids: Sequence[str]) -> None:
        """Where the lists of recipients seen for the first time end (their heads, read side
        by side): what `next_ids` numbers from. Called early, beside other reads."""
        unknown = [r for r in dict.fromkeys(recipient_ids) if r not in self._last]
        found = await asyncio.gather(*(self.log.hint(r) for r in unknown))
        for rid, last in zip(unknown, found, strict=True):
            self._last[rid] = max(last, self._last.get(rid, 0))

    async def next_ids(self, recipient_ids: Sequence[str]) -> list[str]:
        """Item ids for new items, one per entry of `recipient_ids`, numbered from what this
        process last wrote (a recipient seen for the first time costs one head lookup, none
        after `learn`). A number taken already (a head left behind, another writer) is found
        by `place`, which numbers that item again."""
        await self.learn(recipient_ids)
        ids = []
        for rid in recipient_ids:
            self._last[rid] += 1
            ids.append(self.log.item_id(rid, self._last[rid]))
        return ids

    def unused(self, item_id: str) -> None:
        """Gives back a number `next_ids` handed out for an item that will not be written."""
        rid, _, seq = item_id.rpartition(":")
        if self._last.get(rid) == int(seq):
            self._last[rid] -= 1

    async def place(self, deliveries: Sequence[Delivery]) -> None:
        """Writes the inbox items of in-app deliveries stored with their `inbox_id`: one
        insert for all (their heads advance at the next `flush`). An item already there for
        the same delivery (the event came again) is left; one that another writer numbered
        first makes this delivery's item the next of its list instead."""
        docs = [_item(entry_of(d), d.inbox_id or "") for d in deliveries]
        if not docs:
            return
        taken = await insert_new(self.log.items, docs)
        clashes: list[Delivery] = []
        if taken:
            there = await find_by_ids(self.log.items, [docs[i]["_id"] for i in taken])
            for i in taken:
                if there.get(docs[i]["_id"], {}).get("delivery_id") != docs[i]["delivery_id"]:
                    clashes.append(deliveries[i])
        for i, doc in enumerate(docs):
            if i not in taken:
                self._heads[doc["key"]] = max(doc["seq"], self._heads.get(doc["key"], 0))
        for i, doc in enumerate(docs):
            if i not in taken:
                self.hub.publish(doc["key"], public(doc))
        for d in clashes:
            await self.add(entry_of(d), retry=True)

    async def flush(self) -> None:
        """Advances the heads of the lists `place` wrote to since the last flush (the
        consumer's batch): one bulk write. Readers probe past a head left behind."""
        await flush_max(self.log.heads, self._heads, "last")

    async def add(self, entry: InboxEntry, retry: bool) -> dict[str, Any]:
        """Stores the item once; `retry` after an interrupted attempt that may have stored it."""
        async with self._lock(entry.recipient_id):
            if retry:
                found = await self._recent(entry.recipient_id, entry.delivery_id)
                if found is not None:
                    return public(found)
            item = await self.log.append(entry.recipient_id, item_fields(entry))
            assert item is not None
            rid = entry.recipient_id
            self._last[rid] = max(self._last.get(rid, 0), int(item["seq"]))
        shown = public(item)
        self.hub.publish(entry.recipient_id, shown)
        return shown

    async def _recent(self, recipient_id: str, delivery_id: str) -> Document | None:
        last = await self.log.last(recipient_id)
        for seq in range(last, max(0, last - RECOVERY_WINDOW), -1):
            item = await self.log.get(recipient_id, seq)
            if item is not None and item.get("delivery_id") == delivery_id:
                return item
        return None

    async def page(
        self, recipient_id: str, before: int | None, limit: int
    ) -> tuple[list[dict[str, Any]], int, int | None]:
        """Items older than `before` (newest first), the unread count, the next cursor."""
        last = await self.log.last(recipient_id)
        head = await self.log.heads.find_one({"_id": recipient_id}) or {}
        unread = max(0, last - int(head.get("read", 0)))
        top = last if before is None else min(last, before - 1)
        seqs = list(range(top, max(0, top - limit), -1))
        items = [public(d) for d in await self.log.read(recipient_id, seqs)]
        next_cursor = seqs[-1] if seqs and seqs[-1] > 1 else None
        return items, unread, next_cursor

    async def since(self, recipient_id: str, after: int, limit: int = 100) -> list[dict[str, Any]]:
        """Items newer than `after`, oldest first (a stream resuming from Last-Event-ID)."""
        last = await self.log.last(recipient_id)
        seqs = list(range(max(after + 1, last - limit + 1), last + 1))
        return [public(d) for d in await self.log.read(recipient_id, seqs)]

    async def get(self, item_id: str) -> Document | None:
        return await self.log.items.find_one({"_id": item_id})

    async def mark_read(self, item: Document, now: datetime) -> dict[str, Any]:
        recipient_id = item["recipient_id"]
        async with self._lock(recipient_id):
            fresh = await self.get(item["_id"]) or item
            if not fresh.get("read"):
                await self.log.items.update_one(
                    {"_id": item["_id"]}, {"$set": {"read": True, "read_at": now}}
                )
                await self.log.heads.update_one(
                    {"_id": recipient_id}, {"$inc": {"read": 1}}, upsert=True
                )
                fresh = {**fresh, "read": True, "read_at": now}
        return public(fresh)


def entry_of(d: Delivery) -> InboxEntry:
    return InboxEntry(
        delivery_id=d.id,
        recipient_id=d.recipient_id,
        event_id=d.event_id,
        type=d.event_type,
        subject=d.subject,
        title=d.title,
        body=d.body,
        need_id=d.need_id,
        community_id=d.community_id,
        created_at=d.created_at,
    )


def item_fields(entry: InboxEntry) -> Document:
    return {
        "delivery_id": entry.delivery_id,
        "recipient_id": entry.recipient_id,
        "event_id": entry.event_id,
        "type": entry.type,
        "subject": entry.subject,
        "title": entry.title,
        "body": entry.body,
        "need_id": entry.need_id,
        "community_id": entry.community_id,
        "read": False,
        "created_at": entry.created_at,
    }


def _item(entry: InboxEntry, item_id: str) -> Document:
    seq = item_seq(item_id) or 0
    return {**item_fields(entry), "_id": item_id, "key": entry.recipient_id, "seq": seq}


def item_seq(item_id: str) -> int | None:
    _, _, seq = item_id.rpartition(":")
    return int(seq) if seq.isdigit() else None
