"""The notify service's own settings, on the base every service shares."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from shared.settings import Settings


class NotifySettings(Settings):
    # notify: who hears an approved need, how often, and how hard we try each channel.
    notify_match_radius_km: float = Field(default=1.5, gt=0)
    notify_max_recipients_per_need: int = Field(default=50, ge=1)
    # notify at district scale (#12): how far the rounding of coarse locations may move a
    # distance, added to the match radius. Needs and volunteers both reach notify rounded to
    # 0.01° (shared.visibility): each point up to 0.79 km off, a distance up to twice that (#19):
    # 2 × COARSE_ERROR_KM = 1.57, rounded up.
    notify_location_precision_km: float = Field(default=1.6, ge=0)
    # A subscriber hears a burst of one event type in one scope (a bulk import) as its first
    # event, then one summary when this window after it closes.
    notify_burst_window_s: float = Field(default=60.0, gt=0)
    notify_daily_need_messages_per_volunteer: int = Field(default=10, ge=0)
    notify_max_attempts: int = Field(default=5, ge=1)
    notify_retry_base_s: float = Field(default=2.0, ge=0)
    notify_retry_max_s: float = Field(default=300.0, ge=0)
    notify_webhook_timeout_s: float = Field(default=5.0, gt=0)
    notify_dispatch_poll_s: float = Field(default=1.0, gt=0)
    # Sends each channel runs at once; each channel has its own backlog (#12).
    notify_dispatch_concurrency: int = Field(default=16, ge=1)
    notify_sse_heartbeat_s: float = Field(default=15.0, gt=0)
    notify_digest_hour: int = Field(default=20, ge=0, le=23)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "tongxin@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    sms_provider: Literal["log"] = "log"
    # Networks (CIDR) outbound webhooks may reach although not public, e.g. ["10.1.2.0/24"]
    # for an intranet receiver; loopback, private and link-local targets are refused otherwise.
    outbound_allow_networks: list[str] = Field(default_factory=list)
    # notify: subscriptions one recipient may hold.
    notify_max_subscriptions_per_recipient: int = Field(default=10, ge=1)
    # notify: a resident's or volunteer's own email or phone is confirmed by a code before
    # use (always in the prod profile; tests not about it turn it off).
    notify_confirm_contacts: bool = True

    @model_validator(mode="after")
    def _contacts_confirmed_in_prod(self) -> NotifySettings:
        if self.profile == "prod" and not self.notify_confirm_contacts:
            raise ValueError("TONGXIN_NOTIFY_CONFIRM_CONTACTS cannot be off in the prod profile")
        return self
