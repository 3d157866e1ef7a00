"""Events the notify service publishes on the notify stream."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

from pydantic import Field

from shared.events.envelope import EventPayload

Channel = Literal["inapp", "webhook", "email", "sms"]


class NotificationEvent(EventPayload):
    stream: ClassVar[str] = "notify"
    source: ClassVar[str] = "/tongxin/notify"

    notification_id: str
    source_event_id: str
    source_event_type: str
    recipient_id: str
    channel: Channel
    community_id: str
    need_id: str | None = None

    def subject(self) -> str:
        return self.notification_id

    def community(self) -> str:
        return self.community_id


class NotificationDelivered(NotificationEvent):
    type: ClassVar[str] = "org.tongxin.notification.delivered"
    attempts: int = 1
    delivered_at: datetime


class NotificationFailed(NotificationEvent):
    type: ClassVar[str] = "org.tongxin.notification.failed"
    attempts: int
    error: str = Field(description="why; the target (address, number or webhook) masked in it")
    failed_at: datetime


NOTIFY_EVENTS: list[type[EventPayload]] = [NotificationDelivered, NotificationFailed]
