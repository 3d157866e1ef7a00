"""Deliveries as stored: due, leased, sent, given up."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from services.notify.domain.audience import RosterEntry
from services.notify.domain.delivery import Delivery
from shared.events.envelope import CloudEvent, EventPayload
from shared.mongo.client import Database, Document
from shared.mongo.store import AggregateStore, ConcurrencyConflict, NewCommit


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

    async def pending_for_needs(self, need_ids: Sequence[str]) -> list[Document]:
        """Queue entries of these needs, in one read (the queue is small: only what is due
        or held)."""
        if not need_ids:
            return []
        return await self.queue.find({"need_id": {"$in": list(need_ids)}}).to_list()

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
