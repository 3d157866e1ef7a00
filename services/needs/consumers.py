"""Which streams and event types feed the needs service's handlers."""

from __future__ import annotations

from services.needs.handlers import NeedsDeps
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["volunteers"]


def event_handlers(deps: NeedsDeps) -> dict[str, Handler]:
    return {}
