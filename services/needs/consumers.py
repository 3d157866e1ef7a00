"""Which streams and event types feed the needs service's handlers."""

from __future__ import annotations

from functools import partial

from services.needs.handlers import EVENT_HANDLERS, NeedsDeps
from shared.kafka.consumer import Handler

# The needs service learns who and where (org units, volunteers, teams, organisations)
# from the volunteers stream, into its own read model: it never calls another service.
STREAMS: list[str] = ["volunteers"]


def event_handlers(deps: NeedsDeps) -> dict[str, Handler]:
    return {event_type: partial(handler, deps) for event_type, handler in EVENT_HANDLERS.items()}
