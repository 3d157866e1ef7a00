"""The identity service's own settings, on the base every service shares."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


class IdentitySettings(Settings):
    # identity (#14): sign-in codes, sessions, service clients, the volunteer phone link.
    identity_access_ttl_s: int = Field(default=900, ge=30, le=900)
    identity_refresh_ttl_s: int = Field(default=30 * 86400, ge=60)
    identity_code_ttl_s: int = Field(default=300, ge=30)
    identity_code_max_attempts: int = Field(default=5, ge=1)
    identity_code_cooldown_s: int = Field(default=60, ge=0)
    identity_codes_per_phone_per_day: int = Field(default=10, ge=1)
    identity_codes_per_address_per_day: int = Field(default=100, ge=1)
    # OAuth2 client credentials: client id → {"secret": ..., "scope": org path}.
    identity_service_clients: dict[str, dict[str, str]] = Field(default_factory=dict)
