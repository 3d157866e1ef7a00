"""Which streams and event types feed the notify service's handlers."""

from __future__ import annotations

from services.notify.inbox import Inbox
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import NeedPosted
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["needs", "volunteers"]


def event_handlers(inbox: Inbox) -> dict[str, Handler]:
    async def need_posted(event: CloudEvent, payload: EventPayload) -> None:
        assert isinstance(payload, NeedPosted)
        await inbox.deliver(
            event.id,
            event.type,
            event.subject,
            payload.requester_id,
            f"您的需求“{payload.title}”已提交，等待社区审核。",
        )

    return {NeedPosted.type: need_posted}
