"""Prometheus series of the metrics service, labelled by district and street only.

Community-level detail stays in the stats API: a city has ~1,000 communities but only
~100 streets, which keeps every series' cardinality bounded. Counters move when an event
is first merged into the active projection, so a redelivered event moves nothing.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from services.metrics.domain.facts import Fact, NeedFact
from shared.events.envelope import EventPayload
from shared.events.needs import (
    HoursVerified,
    NeedApproved,
    NeedCancelled,
    NeedPosted,
    NeedRejected,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
    TaskConfirmed,
)
from shared.events.notify import NotificationDelivered, NotificationFailed
from shared.events.volunteers import (
    OrganizationRegistered,
    TeamFormed,
    VolunteerRegistered,
    VolunteerUpdated,
)

PLACE = ["district", "street"]
HOUR_S, DAY_S = 3600.0, 86400.0
DURATION_BUCKETS = (
    HOUR_S,
    6 * HOUR_S,
    DAY_S,
    3 * DAY_S,
    7 * DAY_S,
    14 * DAY_S,
    30 * DAY_S,
    90 * DAY_S,
)

NEEDS_POSTED = Counter("tongxin_needs_posted_total", "Needs posted.", PLACE)
NEEDS_APPROVED = Counter("tongxin_needs_approved_total", "Needs approved into the library.", PLACE)
NEEDS_REJECTED = Counter("tongxin_needs_rejected_total", "Needs rejected in review.", PLACE)
NEEDS_CANCELLED = Counter("tongxin_needs_cancelled_total", "Needs cancelled.", PLACE)
CLAIMS = Counter(
    "tongxin_claims_total", "Claims made, by claimant type.", [*PLACE, "claimant_type"]
)
CLAIMS_RELEASED = Counter(
    "tongxin_claims_released_total", "Claims released, by reason.", [*PLACE, "reason"]
)
NEEDS_CLAIMED = Counter(
    "tongxin_needs_claimed_total", "Needs whose every slot was taken (status claimed).", PLACE
)
TASKS_COMPLETED = Counter("tongxin_tasks_completed_total", "Needs completed.", PLACE)
TASKS_CONFIRMED = Counter("tongxin_tasks_confirmed_total", "Completions confirmed.", PLACE)
VOLUNTEERS_REGISTERED = Counter(
    "tongxin_volunteers_registered_total", "Volunteers reported in to a community.", PLACE
)
TEAMS_FORMED = Counter("tongxin_teams_formed_total", "Volunteer service teams formed.", PLACE)
ORGANIZATIONS_REGISTERED = Counter(
    "tongxin_organizations_registered_total",
    "Enterprises and social organisations registered as claimants.",
    PLACE,
)
SERVICE_SECONDS = Counter(
    "tongxin_volunteer_service_seconds_total",
    "Volunteer service time verified (hours × 3600).",
    PLACE,
)
BENEFICIARIES = Counter(
    "tongxin_beneficiaries_served_total", "Beneficiaries served, as verified.", PLACE
)
GOODS = Counter("tongxin_goods_handed_over_total", "Goods handed over, as verified.", PLACE)
FUNDS = Counter("tongxin_funds_cents_total", "Funds spent, as verified, in fen.", PLACE)
NOTIFICATIONS = Counter(
    "tongxin_notification_outcomes_total",
    "Notifications delivered or failed, by channel.",
    [*PLACE, "channel", "outcome"],
)
TIME_TO_CLAIM = Histogram(
    "tongxin_time_to_claim_seconds",
    "From approval to the first time every slot of the need was taken.",
    PLACE,
    buckets=DURATION_BUCKETS,
)
TIME_TO_COMPLETE = Histogram(
    "tongxin_time_to_complete_seconds",
    "From the need being fully claimed to its completion.",
    PLACE,
    buckets=DURATION_BUCKETS,
)
RATING = Histogram(
    "tongxin_confirmation_rating",
    "Ratings (1-5) given at confirmation.",
    PLACE,
    buckets=(1, 2, 3, 4, 5),
)

FACTS = Gauge("tongxin_metrics_facts", "Facts held by the projection, by kind.", ["kind"])
GENERATION = Gauge(
    "tongxin_metrics_projection_generation", "The projection generation being served."
)
STATS_DURATION = Histogram(
    "tongxin_metrics_query_duration_seconds",
    "Time to compute a stats answer (cache misses only).",
    ["query"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
REPORTS_EXPORTED = Counter(
    "tongxin_metrics_reports_exported_total", "Reports exported, by report.", ["report"]
)


def place(path: str) -> tuple[str, str]:
    """(district, street) of an org path; street is empty for a district-level path."""
    parts = path.split(".")
    return parts[0], ".".join(parts[:2]) if len(parts) > 1 else ""


def observe(payload: EventPayload, before: Fact | None, after: Fact) -> None:
    """Moves the series for an event just merged into the active projection."""
    labels = place(after.community)
    match payload:
        case NeedPosted():
            NEEDS_POSTED.labels(*labels).inc()
        case NeedApproved():
            NEEDS_APPROVED.labels(*labels).inc()
        case NeedRejected():
            NEEDS_REJECTED.labels(*labels).inc()
        case NeedCancelled():
            NEEDS_CANCELLED.labels(*labels).inc()
        case ProjectClaimed():
            CLAIMS.labels(*labels, payload.claimant_type).inc()
            _first_filled(before, after, labels)
        case ProjectClaimReleased():
            CLAIMS_RELEASED.labels(*labels, payload.reason).inc()
        case TaskCompleted():
            TASKS_COMPLETED.labels(*labels).inc()
            if payload.hours_status == "verified":
                _verified(payload, labels)
            _first_completed(before, after, labels)
        case HoursVerified():
            # Counters only grow: the first verification counts; corrections show in /v1/stats.
            if payload.revision == 1:
                _verified(payload, labels)
        case TaskConfirmed():
            TASKS_CONFIRMED.labels(*labels).inc()
            RATING.labels(*labels).observe(payload.rating)
        case VolunteerUpdated():
            pass
        case VolunteerRegistered():
            VOLUNTEERS_REGISTERED.labels(*labels).inc()
        case TeamFormed():
            TEAMS_FORMED.labels(*labels).inc()
        case OrganizationRegistered():
            ORGANIZATIONS_REGISTERED.labels(*labels).inc()
        case NotificationDelivered():
            NOTIFICATIONS.labels(*labels, payload.channel, "delivered").inc()
        case NotificationFailed():
            NOTIFICATIONS.labels(*labels, payload.channel, "failed").inc()
        case _:
            pass


def _verified(payload: TaskCompleted | HoursVerified, labels: tuple[str, str]) -> None:
    SERVICE_SECONDS.labels(*labels).inc(sum(h.hours for h in payload.hours) * HOUR_S)
    BENEFICIARIES.labels(*labels).inc(payload.beneficiaries_served)
    GOODS.labels(*labels).inc(payload.goods_count)
    FUNDS.labels(*labels).inc(payload.funds_cents)


def _first_filled(before: Fact | None, after: Fact, labels: tuple[str, str]) -> None:
    if not isinstance(after, NeedFact) or after.filled_at is None:
        return
    if isinstance(before, NeedFact) and before.filled_at is not None:
        return
    start = after.opened_at or after.posted_at
    if start is not None:
        TIME_TO_CLAIM.labels(*labels).observe(max(0.0, (after.filled_at - start).total_seconds()))


def _first_completed(before: Fact | None, after: Fact, labels: tuple[str, str]) -> None:
    if not isinstance(after, NeedFact) or after.completed_at is None or after.filled_at is None:
        return
    if isinstance(before, NeedFact) and before.completed_at is not None:
        return
    seconds = (after.completed_at - after.filled_at).total_seconds()
    TIME_TO_COMPLETE.labels(*labels).observe(max(0.0, seconds))
