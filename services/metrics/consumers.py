"""Which streams and event types feed the metrics projection."""

from __future__ import annotations

from services.metrics.projection import Projection
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.registry import EVENT_TYPES
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["needs", "volunteers", "notify"]


def event_handlers(projection: Projection) -> dict[str, Handler]:
    async def record(event: CloudEvent, _: EventPayload) -> None:
        await projection.record(event)

    return dict.fromkeys(EVENT_TYPES, record)
