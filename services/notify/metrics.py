"""Prometheus series of the notify service (registered once, at import)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

NOTIFICATIONS = Counter(
    "tongxin_notifications_total",
    "Delivery attempts by channel and outcome (delivered, retried, failed).",
    ["channel", "outcome"],
)
DELIVERY_SECONDS = Histogram(
    "tongxin_notification_send_duration_seconds",
    "Time one channel took to send one notification.",
    ["channel"],
    buckets=(0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DELIVERIES_CREATED = Counter(
    "tongxin_notification_deliveries_created_total",
    "Deliveries created, by channel (a redelivered event creates none).",
    ["channel"],
)
FOLDED = Counter(
    "tongxin_notification_folded_total",
    "Notifications folded into a digest instead of sent, by why (digest, capped).",
    ["reason"],
)
DROPPED = Counter(
    "tongxin_notification_invitations_dropped_total",
    "Pending invitations dropped because their need was filled, cancelled or completed.",
)
DIGESTS = Counter("tongxin_notification_digests_total", "Daily digests built.")
PENDING = Gauge(
    "tongxin_notification_pending_deliveries",
    "Deliveries waiting: due now, retrying, or held through quiet hours.",
)
SSE_CLIENTS = Gauge("tongxin_inbox_stream_clients", "Clients connected to the inbox stream.")
