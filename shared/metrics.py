"""Prometheus series every service exposes; a `service` label tells them apart."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

HTTP_REQUESTS = Counter(
    "tongxin_http_requests_total",
    "HTTP requests answered, by route template and status code.",
    ["service", "method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "tongxin_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["service", "method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
CONSUMER_EVENTS = Counter(
    "tongxin_consumer_events_total",
    "Events a consumer took off a topic, by outcome "
    "(handled, duplicate, ignored, retried, dead_lettered).",
    ["service", "topic", "type", "outcome"],
)
CONSUMER_DURATION = Histogram(
    "tongxin_consumer_handle_duration_seconds",
    "Time a handler took for one event, retries included.",
    ["service", "type"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30),
)
CONSUMER_STALLED = Gauge(
    "tongxin_consumer_stalled",
    "1 while a consumer makes no progress on a topic although it has work (see /readyz).",
    ["service", "topic"],
)
CONSUMER_LAG = Gauge(
    "tongxin_consumer_lag_messages",
    "Messages between a consumer group's position and the partition's end.",
    ["service", "topic", "partition"],
)
CONSUMER_BATCH = Histogram(
    "tongxin_consumer_batch_size_messages",
    "Messages handled per committed batch.",
    ["service"],
    buckets=(1, 5, 10, 50, 100, 250, 500, 1000),
)
OUTBOX_PENDING = Gauge(
    "tongxin_outbox_pending_events",
    "Stored state changes whose events the relay has not published yet.",
    ["service"],
)
OUTBOX_PUBLISHED = Counter(
    "tongxin_outbox_published_events_total",
    "Events the relay published from the outbox.",
    ["service", "topic"],
)
OUTBOX_FAILURES = Counter(
    "tongxin_outbox_publish_failures_total",
    "Relay passes that could not publish (broker or database unreachable).",
    ["service"],
)
PRODUCER_SESSIONS_RENEWED = Counter(
    "tongxin_producer_sessions_renewed_total",
    "Producers replaced because the broker gave up their idempotent session.",
)
TASK_RESTARTS = Counter(
    "tongxin_task_restarts_total",
    "Relay or consumer tasks that ended while the service ran, restarted by its supervisor.",
    ["service", "task"],
)

# issue 19: the district router (services/notify/handlers/district_router.py).
DISTRICT_ROUTED = Counter(
    "tongxin_district_router_records_total",
    "Public-stream records the district router committed to a district topic (routed) or "
    "passed over (skipped: not a CloudEvent with a community).",
    ["outcome"],
)
