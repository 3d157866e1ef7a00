"""Which streams and event types feed the volunteers service's handlers."""

from __future__ import annotations

from services.volunteers import handlers
from services.volunteers.handlers import VolunteersDeps
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import HoursVerified, TaskCompleted
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["needs"]


def event_handlers(deps: VolunteersDeps) -> dict[str, Handler]:
    async def on_verified_hours(event: CloudEvent, payload: EventPayload) -> None:
        assert isinstance(payload, TaskCompleted | HoursVerified)
        await handlers.credit_task_hours(deps, payload, event.correlationid)

    return {TaskCompleted.type: on_verified_hours, HoursVerified.type: on_verified_hours}
