"""What clients of the notify service write and what they read back."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema, model_validator

from services.notify.domain.audience import Audience, Subscription
from shared.auth import Principal
from shared.categories import CategoryName
from shared.events.notify import Channel as ChannelName
from shared.events.registry import EVENT_TYPES
from shared.inputs import EMAIL_PATTERN, HTTP_URL_PATTERN
from shared.phones import PHONE_PATTERN
from shared.visibility import view_for

# An event type to subscribe to (shared.events.registry), or "*" for all.
EventTypeName = Annotated[
    str, WithJsonSchema({"type": "string", "enum": ["*", *sorted(EVENT_TYPES)]})
]

# The target each channel takes (the inbox none): the documented pattern is the check.
TARGETS = {"webhook": HTTP_URL_PATTERN, "email": EMAIL_PATTERN, "sms": PHONE_PATTERN}
_TARGETS = {channel: re.compile(pattern) for channel, pattern in TARGETS.items()}
TARGET_RULES = {
    "webhook": "a webhook target is an http(s) URL",
    "email": "an email target is an address",
    "sms": "an sms target is a phone number",
}


def _channel_forms() -> dict[str, Any]:
    forms = []
    for channel in ("inapp", "webhook", "email", "sms"):
        properties: dict[str, Any] = {"channel": {"const": channel}}
        if channel in TARGETS:
            properties["target"] = {"type": "string", "pattern": TARGETS[channel]}
        if channel != "webhook":
            properties["secret"] = {"type": "null"}
        forms.append(
            {
                "title": channel,
                "required": ["channel", "target"] if channel in TARGETS else ["channel"],
                "properties": properties,
            }
        )
    return {"oneOf": forms}


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_channel_forms())
    # Default: the caller (the token's `sub`); someone else only for admins in scope.
    recipient_id: str | None = Field(default=None, min_length=1, max_length=200)
    channel: ChannelName
    # Webhook URL, email address or phone number; the inbox needs none.
    target: str | None = Field(default=None, max_length=2000)
    event_types: list[EventTypeName] = Field(default=[], description='Empty or ["*"]: every type.')
    scope: str | None = Field(default=None, description="Org path; default: the caller's scope.")
    categories: list[CategoryName] = []
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
        pattern = _TARGETS.get(self.channel)
        if pattern is not None and not pattern.fullmatch(self.target or ""):
            raise ValueError(TARGET_RULES[self.channel])
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
    def of(
        cls, reader: Principal, sub: Subscription, secret: str | None = None
    ) -> SubscriptionPublic:
        """As `reader` sees it (shared.visibility.FIELD_MATRIX): its recipient or an admin of
        its scope, the only readers it is shown to (policy.may_manage)."""
        view = view_for(reader, "subscription", sub.scope, sub.recipient_id)
        data = sub.model_dump(exclude={"secret", "target"})
        return cls(**data, target=view.contact("target", sub.channel, sub.target), secret=secret)


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
