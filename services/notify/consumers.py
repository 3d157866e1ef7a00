"""Which streams and event types feed the notify service's handlers."""

from __future__ import annotations

from services.notify.handlers import EVENT_HANDLERS, EventHandler, NotifyDeps
from shared.events.envelope import CloudEvent, EventPayload
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["needs", "volunteers"]


def event_handlers(deps: NotifyDeps) -> dict[str, Handler]:
    def bind(handler: EventHandler) -> Handler:
        async def handle(event: CloudEvent, payload: EventPayload) -> None:
            await deps.loaded.wait()
            await handler(deps, event, payload)

        return handle

    return {event_type: bind(handler) for event_type, handler in EVENT_HANDLERS.items()}
