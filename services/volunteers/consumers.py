"""Which streams and event types feed the volunteers service's handlers."""

from __future__ import annotations

from collections.abc import Mapping

from services.volunteers.handlers import EVENT_HANDLERS, VolunteersDeps
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["needs"]


def event_handlers(deps: VolunteersDeps) -> Mapping[str, Handler]:
    return EVENT_HANDLERS.bind(deps)
