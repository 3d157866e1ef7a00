"""Prometheus series of the needs service (registered once, at import)."""

from __future__ import annotations

from prometheus_client import Counter

TRANSITIONS = Counter(
    "tongxin_needs_transitions_total",
    "Need state changes committed, by action (post, approve, claim, release, expire, ...).",
    ["action"],
)
COMMIT_CONFLICTS = Counter(
    "tongxin_needs_commit_conflicts_total",
    "Commits that lost the race for a need's next version and were retried, by action.",
    ["action"],
)
CLAIMS_EXPIRED = Counter(
    "tongxin_needs_claims_expired_total",
    "Claims released automatically because they were not completed in time.",
)
IDEMPOTENT_REPLAYS = Counter(
    "tongxin_needs_idempotent_replays_total",
    "POST /v1/needs answered from an earlier request with the same Idempotency-Key.",
)
READ_MODEL_UPDATES = Counter(
    "tongxin_needs_read_model_updates_total",
    "Volunteers-stream events applied to the needs service's read model, by kind.",
    ["kind"],
)
CLAIMS_CAPPED = Counter(
    "tongxin_needs_claims_capped_total",
    "Claims refused because a volunteer or organisation held the district's cap of active "
    "claims, by kind (volunteer, organization).",
    ["kind"],
)
