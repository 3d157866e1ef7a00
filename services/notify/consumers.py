"""Which streams feed the notify service's handlers (the handlers: `handlers.EVENT_HANDLERS`)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from services.notify.handlers import EVENT_HANDLERS, NotifyDeps
from shared.events.envelope import CloudEvent, EventPayload
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["needs", "volunteers"]


def event_handlers(deps: NotifyDeps) -> dict[str, Handler]:
    """The registry bound to `deps`; each handler first waits for the in-memory state
    (volunteers, caps, last alerts) to be loaded."""

    def waiting(handler: Handler) -> Handler:
        async def handle(event: CloudEvent, payload: EventPayload) -> None:
            await deps.loaded.wait()
            await handler(event, payload)

        return handle

    bound: Mapping[str, Handler] = EVENT_HANDLERS.bind(deps)
    return {event_type: waiting(handler) for event_type, handler in bound.items()}


async def end_of_batch(deps: NotifyDeps) -> None:
    """What a consumer batch leaves to store at its end, before its offsets are committed:
    its notifications (routes, deliveries, inbox items), volunteers' and needs' documents,
    inbox heads, when volunteers were alerted (a few bulk writes for the whole batch)."""
    await asyncio.gather(deps.notifier.flush(), deps.read_model.flush())
    await asyncio.gather(deps.inbox.flush(), deps.notifier.routes.flush())
