"""What the service layer needs from its adapters, as Protocols: the real adapters
(shared/mongo/store.py, shared/kafka/producer.py) and the fakes of tests/fakes.py both
fit them."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from shared.events.envelope import CloudEvent
from shared.kafka.producer import Headers
from shared.mongo.client import Document


class CommitStore(Protocol):
    """Aggregates as numbered commits; a commit of a taken version raises
    ConcurrencyConflict (the arbiter of concurrent writers)."""

    async def load(self, aggregate_id: str) -> tuple[Document | None, int]: ...

    async def commit(
        self,
        aggregate_id: str,
        expected_version: int,
        state: Document,
        events: Sequence[tuple[str, CloudEvent]] = (),
        meta: Document | None = None,
    ) -> int: ...

    async def first_state(self, aggregate_id: str) -> Document | None: ...

    async def history(self, aggregate_id: str, version: int) -> list[Document]: ...


class EventPublisher(Protocol):
    """Sends events to the broker and waits until it has them."""

    async def publish(self, topic: str, events: Sequence[CloudEvent]) -> None: ...

    async def send_raw(
        self, topic: str, messages: Sequence[tuple[bytes | None, bytes, Headers]]
    ) -> None: ...
