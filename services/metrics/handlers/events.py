"""Which streams and event types feed the metrics projection."""

from __future__ import annotations

from services.metrics.domain.facts import MERGERS
from services.metrics.handlers.projection import Projection
from shared.kafka.handlers import EventHandlers, on

STREAMS: list[str] = ["needs", "volunteers", "notify"]

# Every event type a fact merges; others (points) are ignored by the runner.
EVENT_HANDLERS = EventHandlers[Projection](*(on(p, Projection.handle) for p in MERGERS))
