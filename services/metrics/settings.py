"""The metrics service's own settings, on the base every service shares."""

from __future__ import annotations

from pydantic import Field

from shared.settings import Settings


class MetricsSettings(Settings):
    # metrics: generations pointer polled this often; facts reloaded from MongoDB this often
    # (picks up other instances' writes; 0 = never).
    metrics_pointer_poll_s: float = Field(default=1.0, gt=0)
    metrics_refresh_s: float = Field(default=60.0, ge=0)
    metrics_dashboard_refresh_s: int = Field(default=15, ge=2)
