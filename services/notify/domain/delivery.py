"""The delivery aggregate: one notification to one recipient on one channel. Pure rules.

Its id is `<event id>:<recipient>:<channel>`: the store's unique insert of its first commit
is what makes a notification happen once, however often its event arrives. An attempt is
leased (`lease_until`) by a commit before anything is sent, so two dispatchers never send
the same attempt; the outcome commit carries `notification.delivered` or `.failed`.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel

from shared.events.notify import Channel as ChannelName
from shared.events.notify import NotificationDelivered, NotificationFailed
from shared.visibility import mask_target

DeliveryStatus = Literal["pending", "delivered", "failed", "dropped"]
DIGEST_TYPE = "org.tongxin.notification.digest"
SUMMARY_TYPE = "org.tongxin.notification.summary"


def delivery_id(event_id: str, recipient_id: str, channel: str) -> str:
    return f"{event_id}:{recipient_id}:{channel}"


def retry_delay_s(attempt: int, base: float, cap: float) -> float:
    """Capped exponential backoff with jitter: half the step fixed, half random."""
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return float(step / 2 + random.uniform(0, step / 2))


class Delivery(BaseModel):
    id: str
    event_id: str
    event_type: str
    subject: str
    need_id: str | None = None
    community_id: str
    correlation_id: str | None = None
    recipient_id: str
    channel: ChannelName
    target: str
    subscription_id: str | None = None
    title: str
    body: str
    # The CloudEvent as published, for webhooks (their body) and the dead-letter record.
    event_json: str | None = None
    status: DeliveryStatus = "pending"
    due_at: datetime
    attempts: int = 0
    lease_until: datetime | None = None
    last_error: str | None = None
    # In-app: the inbox item this delivery is (`<recipient>:<seq>`), chosen in its first commit.
    inbox_id: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    failed_at: datetime | None = None

    def leased(self, now: datetime) -> bool:
        return self.lease_until is not None and self.lease_until > now

    def ready(self, now: datetime) -> bool:
        return self.status == "pending" and self.due_at <= now and not self.leased(now)

    def start_attempt(self, now: datetime, lease: timedelta) -> Delivery:
        if not self.ready(now):
            raise ValueError(f"delivery {self.id} is not ready to send")
        return self.model_copy(update={"attempts": self.attempts + 1, "lease_until": now + lease})

    def succeeded(self, now: datetime) -> tuple[Delivery, NotificationDelivered]:
        done = self.model_copy(
            update={"status": "delivered", "delivered_at": now, "lease_until": None}
        )
        return done, NotificationDelivered(
            **self._event_fields(), attempts=self.attempts, delivered_at=now
        )

    def delivered_in_inbox(
        self, now: datetime, inbox_id: str
    ) -> tuple[Delivery, NotificationDelivered]:
        """An in-app delivery is its inbox item: delivered in its first commit."""
        placed = self.model_copy(update={"attempts": 1, "inbox_id": inbox_id})
        return placed.succeeded(now)

    def drop(self) -> Delivery:
        """Not sent after all: the need it invites to was filled, cancelled or completed."""
        return self.model_copy(update={"status": "dropped", "lease_until": None})

    def attempt_failed(
        self, now: datetime, error: str, max_attempts: int, retry_in_s: float, permanent: bool
    ) -> tuple[Delivery, NotificationFailed | None]:
        """Schedules the next attempt, or fails for good after the last one."""
        error = error[:1000]
        if permanent or self.attempts >= max_attempts:
            return self.give_up(now, error)
        retry = self.model_copy(
            update={
                "due_at": now + timedelta(seconds=retry_in_s),
                "lease_until": None,
                "last_error": error,
            }
        )
        return retry, None

    def give_up(self, now: datetime, error: str) -> tuple[Delivery, NotificationFailed]:
        failed = self.model_copy(
            update={"status": "failed", "failed_at": now, "lease_until": None, "last_error": error}
        )
        return failed, NotificationFailed(
            **self._event_fields(), attempts=self.attempts, error=self.public(error), failed_at=now
        )

    def public(self, text: str) -> str:
        """`text` as the public notify stream carries it: the target masked in it (an SMTP
        refusal quotes the address, a connection error the URL)."""
        if not self.target:
            return text
        return text.replace(self.target, mask_target(self.channel, self.target))

    def _event_fields(self) -> dict[str, Any]:
        return {
            "notification_id": self.id,
            "source_event_id": self.event_id,
            "source_event_type": self.event_type,
            "recipient_id": self.recipient_id,
            "channel": self.channel,
            "community_id": self.community_id,
            "need_id": self.need_id,
        }
