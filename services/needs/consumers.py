"""Which streams and event types feed the needs service's handlers."""

from __future__ import annotations

from collections.abc import Mapping

from services.needs.handlers import EVENT_HANDLERS, NeedsDeps
from shared.kafka.consumer import Handler

# The needs service learns who and where (org units, volunteers, teams, organisations)
# from the volunteers stream, into its own read model: it never calls another service.
STREAMS: list[str] = ["volunteers"]


def event_handlers(deps: NeedsDeps) -> Mapping[str, Handler]:
    return EVENT_HANDLERS.bind(deps)
