"""Channels behind one interface: `send(notification)` returns when delivered, raises otherwise.

A `DeliveryError(permanent=True)` means retrying cannot help (a 4xx answer, a removed
subscription); anything else is retried with backoff by the dispatcher.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Protocol

import aiosmtplib
import httpx

from services.notify.adapters.inbox import Inbox, InboxEntry
from shared.events.envelope import CONTENT_TYPE
from shared.events.notify import Channel as ChannelName
from shared.logging import get_logger
from shared.outbound import OutboundRefused
from shared.settings import Settings

log = get_logger(__name__)

SIGNATURE_HEADER = "X-Tongxin-Signature"


@dataclass(frozen=True)
class Notification:
    delivery_id: str
    recipient_id: str
    channel: ChannelName
    target: str
    title: str
    body: str
    event_id: str
    event_type: str
    subject: str
    need_id: str | None
    community_id: str
    created_at: datetime
    attempt: int
    event_json: str | None = None
    secret: str | None = None


class DeliveryError(Exception):
    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class Channel(Protocol):
    name: ChannelName

    async def send(self, notification: Notification) -> None: ...


class InAppChannel:
    name: ChannelName = "inapp"

    def __init__(self, inbox: Inbox) -> None:
        self._inbox = inbox

    async def send(self, notification: Notification) -> None:
        n = notification
        entry = InboxEntry(
            delivery_id=n.delivery_id,
            recipient_id=n.recipient_id,
            event_id=n.event_id,
            type=n.event_type,
            subject=n.subject,
            title=n.title,
            body=n.body,
            need_id=n.need_id,
            community_id=n.community_id,
            created_at=n.created_at,
        )
        await self._inbox.add(entry, retry=n.attempt > 1)


def sign(secret: str, body: bytes) -> str:
    """The signature header's value: `sha256=<hex HMAC-SHA256 of the body>`."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookChannel:
    """POSTs the CloudEvent itself (structured mode), signed with the subscription's secret."""

    name: ChannelName = "webhook"

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def send(self, notification: Notification) -> None:
        if notification.secret is None:
            raise DeliveryError("subscription removed / 订阅已删除", permanent=True)
        body = (notification.event_json or json.dumps({"title": notification.title})).encode()
        headers = {
            "content-type": CONTENT_TYPE,
            SIGNATURE_HEADER: sign(notification.secret, body),
            "X-Tongxin-Delivery": notification.delivery_id,
            "X-Tongxin-Attempt": str(notification.attempt),
            "User-Agent": "tongxin-notify/1",
        }
        try:
            resp = await self._client.post(notification.target, content=body, headers=headers)
        except OutboundRefused as exc:  # checked again at connect time: DNS may have changed
            raise DeliveryError(str(exc), permanent=True) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if 300 <= resp.status_code < 400:
            raise DeliveryError(f"HTTP {resp.status_code}: redirects are not followed", True)
        if resp.status_code >= 300:
            # 4xx but 408/429 will not change by asking again.
            permanent = 400 <= resp.status_code < 500 and resp.status_code not in (408, 429)
            raise DeliveryError(f"HTTP {resp.status_code}", permanent=permanent)


class EmailChannel:
    name: ChannelName = "email"

    def __init__(self, settings: Settings) -> None:
        self._s = settings

    async def send(self, notification: Notification) -> None:
        msg = EmailMessage()
        msg["From"] = self._s.smtp_from
        msg["To"] = notification.target
        msg["Subject"] = notification.title
        msg["X-Tongxin-Delivery"] = notification.delivery_id
        msg.set_content(notification.body)
        try:
            await aiosmtplib.send(
                msg,
                hostname=self._s.smtp_host,
                port=self._s.smtp_port,
                start_tls=self._s.smtp_starttls,
                username=self._s.smtp_username,
                password=self._s.smtp_password,
                timeout=self._s.smtp_timeout_s,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"recipient refused: {exc}", permanent=True) from exc
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc


class SmsProvider(Protocol):
    """A text-message gateway. A WeChat template-message provider would take the same shape:
    (recipient address, title, text) in, raise on failure."""

    async def send_text(self, phone: str, text: str) -> None: ...


class LogSmsProvider:
    """Development provider: writes the message to the log instead of sending it."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str]] = []

    async def send_text(self, phone: str, text: str) -> None:
        self.sent.append((phone, text))
        log.info("sms_logged", phone=phone[:3] + "****" + phone[-4:], text=text)


class SmsChannel:
    name: ChannelName = "sms"

    def __init__(self, provider: SmsProvider) -> None:
        self._provider = provider

    async def send(self, notification: Notification) -> None:
        await self._provider.send_text(
            notification.target, f"【同心】{notification.title}：{notification.body}"[:300]
        )
