"""The needs service's own settings, on the base every service shares."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


class NeedsSettings(Settings):
    # needs: a claim not completed by the need's due_at (or this many days) is released.
    claim_expiry_days: int = Field(default=14, ge=1)
    claim_expiry_check_s: float = Field(default=60.0, gt=0)
