"""The need's rules, pure: transitions, slots, claims, completion, expiry, eligibility."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.needs.domain import claim as claim_domain
from services.needs.domain import completion, eligibility
from services.needs.domain import need as need_domain
from services.needs.domain.claim import ClaimRequest
from services.needs.domain.completion import CompletionRecord
from services.needs.domain.eligibility import KnownOrgUnit, KnownTeam, KnownVolunteer
from services.needs.domain.need import Need, Requester
from shared.errors import DomainError
from shared.events.needs import (
    NeedCancelled,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
    VolunteerHours,
)

T0 = datetime(2025, 1, 20, 8, 0, tzinfo=UTC)
COMMUNITY = "zhongshan.hongyan.dongfeng"


def a_need(slots: int = 2, due_at: datetime | None = None, status: str = "open") -> Need:
    need = Need(
        id="n1",
        community_id=COMMUNITY,
        title="陪独居老人聊天",
        category="elderly_care",
        kind="wish",
        slots=slots,
        requester=Requester(name="王阿姨", phone="13812345678"),
        requester_id="res-1",
        due_at=due_at,
        status="pending_review",
        posted_by="res-1",
        created_at=T0,
        updated_at=T0,
    )
    posted, _ = need_domain.post_need(need, T0)
    if status == "open":
        posted, _ = need_domain.approve(posted, "admin", T0)
    return posted


def by_volunteer(vid: str, claim_id: str | None = None) -> ClaimRequest:
    return ClaimRequest(
        claim_id=claim_id or f"c-{vid}",
        claimant_type="volunteer",
        claimed_by=vid,
        slots=1,
        volunteer_ids=(vid,),
    )


def claim(need: Need, vid: str, at: datetime = T0) -> Need:
    claimed, _ = claim_domain.claim_slots(need, by_volunteer(vid), at, expiry_days=7)
    return claimed


def test_need_is_claimed_when_its_last_slot_is_taken_and_open_again_when_one_is_released() -> None:
    need = claim(a_need(slots=2), "v1")
    assert (need.status, need.slots_taken) == ("open", 1)
    need, events = claim_domain.claim_slots(need, by_volunteer("v2"), T0, 7)
    assert (need.status, need.slots_taken) == ("claimed", 2)
    assert isinstance(events[0], ProjectClaimed)
    assert (events[0].slots_taken, events[0].need_status) == (2, "claimed")

    need, events = claim_domain.release_claim(need, "c-v1", "v1", T0)
    assert (need.status, need.slots_taken) == ("open", 1)
    [released] = events
    assert isinstance(released, ProjectClaimReleased) and released.reason == "released"


def test_no_slot_left_is_a_conflict_naming_the_state() -> None:
    need = claim(a_need(slots=1), "v1")
    with pytest.raises(DomainError) as refused:
        claim_domain.claim_slots(need, by_volunteer("v2"), T0, 7)
    assert refused.value.kind == "conflict"
    assert refused.value.details["status"] == "claimed"


def test_a_claim_asking_more_slots_than_are_free_is_refused() -> None:
    need = claim(a_need(slots=3), "v1")
    big = ClaimRequest("c-org", "organization", "admin", 3, organization_id="org-1")
    with pytest.raises(DomainError) as refused:
        claim_domain.claim_slots(need, big, T0, 7)
    assert (refused.value.kind, refused.value.details["slots_free"]) == ("conflict", 2)


@pytest.mark.parametrize(
    ("status", "command"),
    [
        ("pending_review", "claim"),
        ("pending_review", "complete"),
        ("open", "approve"),
        ("open", "confirm"),
    ],
)
def test_commands_from_states_the_contract_does_not_name_are_409(status: str, command: str) -> None:
    need = a_need(status=status)
    run: Callable[[], object] = {
        "claim": lambda: claim_domain.claim_slots(need, by_volunteer("v1"), T0, 7),
        "complete": lambda: completion.complete(need, CompletionRecord("x", ()), "v1", T0),
        "approve": lambda: need_domain.approve(need, "admin", T0),
        "confirm": lambda: completion.confirm(need, 5, None, "res-1", T0),
    }[command]
    with pytest.raises(DomainError) as refused:
        run()
    assert refused.value.kind == "conflict"
    assert refused.value.details["status"] == status
    assert refused.value.details["allowed_from"] == list(need_domain.ALLOWED_FROM[command])


def test_hours_are_recorded_only_for_volunteers_of_active_claims() -> None:
    need = claim(claim(a_need(slots=2), "v1"), "v2")
    need, _ = claim_domain.release_claim(need, "c-v2", "v2", T0)
    need = claim(need, "v3")
    stranger = CompletionRecord("k", (VolunteerHours(volunteer_id="v2", hours=2),))
    with pytest.raises(DomainError) as refused:
        completion.complete(need, stranger, "v1", T0)
    assert refused.value.kind == "invalid"
    assert refused.value.details["field"] == "hours.0.volunteer_id"

    ok = CompletionRecord(
        "k",
        (VolunteerHours(volunteer_id="v1", hours=2), VolunteerHours(volunteer_id="v3", hours=24)),
        beneficiaries_served=1,
    )
    done, [event] = completion.complete(need, ok, "v1", T0)
    assert done.status == "completed"
    assert [c.status for c in done.claims] == ["completed", "released", "completed"]
    assert isinstance(event, TaskCompleted)
    assert event.volunteer_ids == ["v1", "v3"] and event.claim_ids == ["c-v1", "c-v3"]


@pytest.mark.parametrize("hours", [0, -1, 24.01, 100])
def test_hours_outside_zero_to_twenty_four_are_refused(hours: float) -> None:
    need = claim(a_need(slots=1), "v1")
    record = CompletionRecord("k", (VolunteerHours(volunteer_id="v1", hours=hours),))
    with pytest.raises(DomainError) as refused:
        completion.complete(need, record, "v1", T0)
    assert refused.value.kind == "invalid"


def test_cancelling_an_open_need_releases_its_claims_in_the_same_change() -> None:
    need = claim(a_need(slots=2), "v1")
    cancelled, [event] = need_domain.cancel(need, "res-1", "不需要了", T0)
    assert cancelled.status == "cancelled" and cancelled.slots_taken == 0
    assert cancelled.claims[0].release_reason == "cancelled"
    assert isinstance(event, NeedCancelled)
    assert (event.released_claim_ids, event.volunteer_ids) == (["c-v1"], ["v1"])


def test_claims_expire_at_the_due_date_or_after_the_configured_days() -> None:
    due = T0 + timedelta(days=2)
    need = claim(a_need(slots=2, due_at=due), "v1")
    assert need.claims[0].expires_at == due and need.next_claim_expiry == due
    undated = claim(a_need(slots=2), "v1")
    assert undated.claims[0].expires_at == T0 + timedelta(days=7)

    same, events = claim_domain.expire_claims(need, due - timedelta(seconds=1))
    assert events == [] and same is need
    expired, [event] = claim_domain.expire_claims(need, due)
    assert isinstance(event, ProjectClaimReleased) and event.reason == "expired"
    assert event.released_by == need_domain.SYSTEM
    assert (expired.status, expired.slots_taken, expired.next_claim_expiry) == ("open", 0, None)


def test_a_need_past_its_due_date_cannot_be_claimed() -> None:
    need = a_need(due_at=T0 + timedelta(hours=1))
    with pytest.raises(DomainError) as refused:
        claim_domain.claim_slots(need, by_volunteer("v1"), T0 + timedelta(hours=2), 7)
    assert refused.value.kind == "conflict"


def test_a_due_date_in_the_past_is_refused_when_posting() -> None:
    with pytest.raises(DomainError) as refused:
        a_need(due_at=T0 - timedelta(minutes=1), status="pending_review")
    assert (refused.value.kind, refused.value.details["field"]) == ("invalid", "due_at")


def test_participants_list_everyone_who_ever_claimed() -> None:
    need = claim(a_need(slots=2), "v1")
    need, _ = claim_domain.release_claim(need, "c-v1", "admin", T0)
    need = claim(need, "v2")
    assert need.participants == ["v1", "v2"]


def test_unknown_or_non_community_units_cannot_hold_needs() -> None:
    with pytest.raises(DomainError) as refused:
        eligibility.require_community(None, "zhongshan.x")
    assert refused.value.kind == "invalid"
    with pytest.raises(DomainError):
        eligibility.require_community(KnownOrgUnit("zhongshan", "中山", "district"), "zhongshan")
    grid = KnownOrgUnit(COMMUNITY + ".g3", "三网格", "grid")
    eligibility.require_community(grid, grid.path)


def test_volunteers_claim_only_when_known_active_and_of_the_needs_community() -> None:
    need = a_need()
    with pytest.raises(DomainError) as unknown:
        eligibility.volunteer_claim(need, "v9", None, "c", "v9")
    assert unknown.value.kind == "invalid" and "not known yet" in unknown.value.message
    inactive = KnownVolunteer("v1", COMMUNITY, active=False)
    with pytest.raises(DomainError) as gone:
        eligibility.volunteer_claim(need, "v1", inactive, "c", "v1")
    assert gone.value.kind == "conflict"
    elsewhere = KnownVolunteer("v1", "zhongshan.hongyan.xinhua")
    with pytest.raises(DomainError) as foreign:
        eligibility.volunteer_claim(need, "v1", elsewhere, "c", "v1")
    assert foreign.value.kind == "forbidden"
    request = eligibility.volunteer_claim(need, "v1", KnownVolunteer("v1", COMMUNITY), "c", "v1")
    assert (request.slots, request.volunteer_ids) == (1, ("v1",))


def test_a_team_claims_for_its_own_members_only() -> None:
    need = a_need(slots=5)
    with pytest.raises(DomainError) as unknown:
        eligibility.known_team("t1", None)
    assert unknown.value.kind == "invalid"
    half_known = KnownTeam("t1", COMMUNITY, None, ("m1",))  # a member joined, formation unseen
    with pytest.raises(DomainError):
        eligibility.known_team("t1", half_known)
    team = KnownTeam("t1", COMMUNITY, "lead", ("lead", "m1", "m2"))
    with pytest.raises(DomainError) as stranger:
        eligibility.team_claim(need, team, ["m1", "x"], [None, None], "c", "lead")
    assert stranger.value.details["volunteer_ids"] == ["x"]
    request = eligibility.team_claim(need, team, ["m1", "m2"], [None, None], "c", "lead")
    assert (request.slots, request.team_id, request.claimant_type) == (2, "t1", "team")
