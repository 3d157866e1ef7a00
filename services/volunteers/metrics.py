"""Prometheus series of the volunteers service (registered once, at import)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

VOLUNTEERS_REGISTERED = Counter(
    "tongxin_volunteer_reports_total",
    "Volunteers reported in by this service, by way (api or import).",
    ["via"],
)
IMPORT_ROWS = Counter(
    "tongxin_volunteer_import_rows_total",
    "Rows of volunteer imports, by outcome (created, duplicate, error).",
    ["outcome"],
)
IMPORT_DURATION = Histogram(
    "tongxin_volunteer_import_duration_seconds",
    "Time to import one uploaded file or chunk, parsing included.",
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
POINTS_CREDITED = Counter(
    "tongxin_points_credited_total", "Love-passbook points credited for service hours."
)
POINTS_REDEEMED = Counter(
    "tongxin_points_redeemed_total", "Love-passbook points spent at the love supermarket."
)
COMMIT_CONFLICTS = Counter(
    "tongxin_volunteers_commit_conflicts_total",
    "Writes that lost a race for a version and were decided again, by aggregate.",
    ["aggregate"],
)
