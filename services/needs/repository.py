"""MongoDB adapter of the needs service: needs as numbered commits with their events."""

from __future__ import annotations

from collections.abc import Sequence

from services.needs.domain import Need
from shared.events.envelope import CloudEvent, EventPayload
from shared.mongo.client import Database
from shared.mongo.store import AggregateStore
from shared.settings import Settings


class NeedsRepository:
    def __init__(self, db: Database, settings: Settings) -> None:
        self.store = AggregateStore(db, "needs")
        self._topic = settings.topics.needs

    async def get(self, need_id: str) -> tuple[Need | None, int]:
        state, version = await self.store.load(need_id)
        return (Need.model_validate(state) if state else None), version

    async def save(
        self,
        need: Need,
        expected_version: int,
        events: Sequence[EventPayload],
        correlation_id: str | None = None,
    ) -> int:
        envelopes = [
            (self._topic, CloudEvent.wrap(e, correlation_id=correlation_id)) for e in events
        ]
        return await self.store.commit(
            need.id, expected_version, need.model_dump(mode="json"), envelopes
        )
