"""How events merge into the metrics facts: once each, in any order, by their own times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from services.metrics.domain.facts import Fact, NeedFact, VolunteerFact, fact_key, merge
from shared.events.envelope import EventPayload
from shared.events.needs import (
    NeedApproved,
    NeedPosted,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
    TaskConfirmed,
    VolunteerHours,
)
from shared.events.volunteers import PointsCredited, VolunteerRegistered, VolunteerUpdated

T0 = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
NEED = {"need_id": "n1", "community_id": "zs.hy.df", "category": "medical", "kind": "wish"}
WHO = {"requester_id": "r1"}


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def claim(claim_id: str, hours: float, status: str, taken: int, **extra: Any) -> ProjectClaimed:
    return ProjectClaimed(
        **NEED,
        **WHO,
        claim_id=claim_id,
        claimant_type=extra.pop("claimant_type", "volunteer"),
        volunteer_ids=extra.pop("volunteer_ids", [f"v-{claim_id}"]),
        slots=1,
        slots_total=2,
        slots_taken=taken,
        need_status=status,
        claimed_by="v",
        posted_at=T0,
        claimed_at=at(hours),
    )


def lifecycle() -> list[tuple[str, EventPayload]]:
    """Posted, approved, two claims (one released and claimed again), completed, confirmed."""
    return [
        (
            "e1",
            NeedPosted(
                **NEED,
                **WHO,
                title="t",
                slots=2,
                beneficiaries=1,
                posted_by="r1",
                status="pending_review",
                due_at=at(100),
                posted_at=T0,
            ),
        ),
        (
            "e2",
            NeedApproved(
                **NEED, **WHO, title="t", slots=2, approved_by="a", posted_at=T0, approved_at=at(2)
            ),
        ),
        ("e3", claim("c1", 5, "open", 1)),
        ("e4", claim("c2", 6, "claimed", 2)),
        (
            "e5",
            ProjectClaimReleased(
                **NEED,
                **WHO,
                claim_id="c2",
                claimant_type="volunteer",
                volunteer_ids=["v-c2"],
                slots=1,
                slots_total=2,
                slots_taken=1,
                need_status="open",
                reason="released",
                released_by="v",
                released_at=at(7),
            ),
        ),
        ("e6", claim("c3", 9, "claimed", 2, claimant_type="team", volunteer_ids=["a", "b"])),
        (
            "e7",
            TaskCompleted(
                **NEED,
                **WHO,
                completion_id="done",
                claim_ids=["c1", "c3"],
                hours=[VolunteerHours(volunteer_id="v-c1", hours=2.5)],
                beneficiaries_served=3,
                goods_count=4,
                funds_cents=500,
                completed_by="v",
                posted_at=T0,
                completed_at=at(30),
            ),
        ),
        (
            "e8",
            TaskConfirmed(
                **NEED, completion_id="done", rating=4, confirmed_by="r1", confirmed_at=at(40)
            ),
        ),
    ]


def fold(events: list[tuple[str, EventPayload]]) -> Fact | None:
    fact: Fact | None = None
    for event_id, payload in events:
        fact = merge(fact, event_id, payload) or fact
    return fact


def canonical(fact: Fact | None) -> dict[str, Any]:
    assert fact is not None
    return {**fact.model_dump(), "applied": sorted(fact.applied)}


def test_a_lifecycle_in_order_gives_the_need_its_times() -> None:
    need = fold(lifecycle())
    assert isinstance(need, NeedFact)
    assert need.posted_at == T0 and need.opened_at == at(2)
    assert need.filled_at == at(6)  # the first time every slot was taken
    assert need.completed_at == at(30)
    assert need.claims["c2"].released_at == at(7)
    assert need.claims["c3"].claimant_type == "team"
    assert need.completions["done"].rating == 4


def test_an_event_merged_twice_changes_nothing() -> None:
    events = lifecycle()
    need = fold(events)
    for event_id, payload in events:
        assert merge(need, event_id, payload) is None


@settings(max_examples=150, deadline=None)
@given(st.permutations(list(range(8))), st.lists(st.integers(0, 7), max_size=6))
def test_any_order_and_any_redelivery_gives_the_same_fact(
    order: list[int], repeats: list[int]
) -> None:
    events = lifecycle()
    shuffled = [events[i] for i in order] + [events[i] for i in repeats]
    assert canonical(fold(shuffled)) == canonical(fold(events))


def test_a_completion_before_its_claims_still_knows_when_the_need_was_claimed() -> None:
    events = lifecycle()
    need = fold([events[6], events[7], events[3], events[0]])
    assert isinstance(need, NeedFact)
    assert need.completed_at == at(30) and need.filled_at == at(6)
    assert need.opened_at is None  # the approval has not arrived yet


def test_the_latest_profile_by_event_time_decides_a_volunteers_home_whatever_the_order() -> None:
    registered = VolunteerRegistered(
        volunteer_id="v1", name="x", home_community_id="zs.hy.df", registered_at=T0
    )
    moved = VolunteerUpdated(
        volunteer_id="v1",
        name="x",
        home_community_id="zs.hy.xh",
        registered_at=T0,
        updated_at=at(5),
    )
    for order in ([("a", registered), ("b", moved)], [("b", moved), ("a", registered)]):
        volunteer = fold(order)
        assert isinstance(volunteer, VolunteerFact)
        assert volunteer.community == "zs.hy.xh" and volunteer.registered_at == T0


def test_times_without_a_zone_are_taken_as_utc() -> None:
    naive = NeedPosted(
        **NEED,
        **WHO,
        title="t",
        slots=1,
        beneficiaries=1,
        posted_by="r1",
        status="pending_review",
        posted_at=datetime(2026, 10, 1, 9, 0),
    )
    need = fold([("e1", naive), lifecycle()[1]])
    assert isinstance(need, NeedFact)
    assert need.posted_at == T0


def test_events_no_figure_depends_on_make_no_fact() -> None:
    credited = PointsCredited(
        volunteer_id="v1",
        community_id="zs.hy.df",
        points=10,
        balance=10,
        need_id="n1",
        completion_id="c",
        hours=1,
        total_hours=1,
        stars=0,
        credited_at=T0,
    )
    assert fact_key(credited) is None and merge(None, "e", credited) is None
