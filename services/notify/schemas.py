"""What clients of the notify service write and what they read back."""

from __future__ import annotations

import re
from datetime import datetime

import httpx
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.notify.domain.audience import Audience, Subscription
from shared.events.notify import Channel as ChannelName

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
PHONE = re.compile(r"^\+?[0-9][0-9 -]{5,19}$")


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Default: the caller (the token's `sub`); someone else only for admins in scope.
    recipient_id: str | None = Field(default=None, min_length=1, max_length=200)
    channel: ChannelName
    # Webhook URL, email address or phone number; the inbox needs none.
    target: str | None = Field(default=None, max_length=2000)
    event_types: list[str] = Field(default=[], description='Empty or ["*"]: every type.')
    scope: str | None = Field(default=None, description="Org path; default: the caller's scope.")
    categories: list[str] = []
    audience: Audience | None = Field(
        default=None,
        description="scope: everything matching inside `scope` (admins, operators, services; "
        "the default for them); personal: only what is addressed to the recipient.",
    )
    secret: str | None = Field(
        default=None, min_length=16, max_length=200, description="Webhook signing key."
    )

    @model_validator(mode="after")
    def _target_fits_channel(self) -> SubscriptionCreate:
        target = self.target or ""
        if self.channel == "webhook":
            try:
                url = httpx.URL(target)
            except httpx.InvalidURL:
                url = httpx.URL("")
            if url.scheme not in ("http", "https") or not url.host:
                raise ValueError("a webhook target is an http(s) URL")
        elif self.channel == "email" and not EMAIL.match(target):
            raise ValueError("an email target is an address")
        elif self.channel == "sms" and not PHONE.match(target):
            raise ValueError("an sms target is a phone number")
        if self.secret is not None and self.channel != "webhook":
            raise ValueError("only webhooks take a secret")
        return self


class SubscriptionPublic(BaseModel):
    id: str
    recipient_id: str
    channel: ChannelName
    target: str
    event_types: list[str]
    scope: str
    categories: list[str]
    audience: Audience
    created_by: str
    created_at: datetime
    secret: str | None = Field(
        default=None, description="The generated webhook secret: in the creation answer only."
    )

    @classmethod
    def of(cls, sub: Subscription, secret: str | None = None) -> SubscriptionPublic:
        return cls(**sub.model_dump(exclude={"secret"}), secret=secret)


class SubscriptionList(BaseModel):
    items: list[SubscriptionPublic]
    next_cursor: str | None = None


class InboxItem(BaseModel):
    id: str
    event_id: str
    type: str
    subject: str
    title: str
    body: str
    need_id: str | None
    community_id: str | None
    read: bool
    created_at: datetime
    read_at: datetime | None = None


class InboxPage(BaseModel):
    items: list[InboxItem]
    unread: int
    next_cursor: str | None


class PendingConfirmation(BaseModel):
    pending_id: str
    channel: ChannelName
    target: str = Field(description="masked")
    expires_at: datetime
    message: str


class ConfirmationCode(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pending_id: str = Field(min_length=1, max_length=64)
    code: str = Field(pattern=r"^[0-9]{6}$")


class StreamTicket(BaseModel):
    ticket: str
    expires_in: int
