"""Which streams and event types feed the metrics projection."""

from __future__ import annotations

from services.metrics.domain import MERGERS
from services.metrics.projection import Projection
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["needs", "volunteers", "notify"]


def event_handlers(projection: Projection) -> dict[str, Handler]:
    """Every event type a fact merges; others (points) are ignored by the runner."""
    return {payload_type.type: projection.handle for payload_type in MERGERS}
