"""Who hears what, on which channel and when: the notify service's pure rules.

Long because it tests each of notify's pure rules, one or two cases each.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.notify.domain.audience import (
    Addressee,
    Claim,
    NeedView,
    Preferences,
    Profile,
    QuietHours,
    RosterEntry,
    Route,
    Subscription,
    TeamView,
    addressees,
    decide_route,
    digest_slot,
    distance_km,
    match_volunteers,
    plan_channel,
    targets_for,
)
from services.notify.settings import NotifySettings
from shared.events.needs import (
    Location,
    NeedApproved,
    NeedCancelled,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskConfirmed,
)
from shared.orgpath import OrgPath
from shared.visibility import COARSE_ERROR_KM

A = "zhongshan.hongyan.dongfeng"
SH = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 3, 2, 23, 0, tzinfo=SH).astimezone(UTC)
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def need(skills: list[str] | None = None, location: Location | None = None) -> NeedApproved:
    return NeedApproved(
        need_id="n1",
        community_id=A,
        category="elderly_care",
        kind="wish",
        title="买年货",
        slots=1,
        skills=skills or [],
        location=location,
        requester_id="r1",
        approved_by="adm",
        posted_at=T0,
        approved_at=T0,
    )


def entry(
    skills: list[str], lat: float | None = None, interests: list[str] | None = None
) -> RosterEntry:
    return RosterEntry(
        skills=skills, interests=interests or [], lat=lat, lon=106.55 if lat is not None else None
    )


def ids(found: list[Addressee]) -> list[str]:
    return [a.recipient_id for a in found]


# --- matching ---------------------------------------------------------------------------


def test_matching_volunteers_are_those_whose_skills_or_interests_fit_nearest_first() -> None:
    roster = {
        "far-ok": entry(["elderly_care"], 29.570),
        "near": entry(["Driving"], 29.5605),  # the need asks for driving
        "interest": entry(["cooking"], interests=["elderly_care"]),
        "nowhere": entry(["elderly_care"]),  # location unknown: included, after the located
        "too-far": entry(["elderly_care"], 29.600),
        "no-fit": entry(["legal_aid"], 29.560),
    }
    found = match_volunteers(
        need(["driving"], Location(lat=29.560, lon=106.55)), roster, radius_km=1.5, cap=50
    )
    # Located ones nearest first; of those without a location the better skill fit first.
    assert ids(found) == ["near", "far-ok", "nowhere", "interest"]
    assert found[0].distance_km == pytest.approx(0.056, abs=0.01)
    assert all(a.reason == "match" for a in found)


def test_without_a_need_location_everyone_matching_is_included_up_to_the_cap() -> None:
    roster = {f"v{i:02d}": entry(["elderly_care"], 40.0) for i in range(60)}
    found = match_volunteers(need(), roster, radius_km=1.5, cap=50)
    assert len(found) == 50 and found[0].distance_km is None


def test_over_the_cap_who_was_alerted_least_recently_goes_first_then_the_nearest() -> None:
    roster = {f"v{i}": entry(["助老"], 29.560 + i * 0.001) for i in range(10)}
    last: dict[str, datetime] = {}
    counts = dict.fromkeys(roster, 0)
    for n in range(10):
        found = match_volunteers(
            need(location=Location(lat=29.560, lon=106.55)), roster, 1.5, 3, last
        )
        for a in found:
            counts[a.recipient_id] += 1
            last[a.recipient_id] = T0 + timedelta(minutes=n)
    assert all(2 <= c <= 4 for c in counts.values()), counts
    first = match_volunteers(need(location=Location(lat=29.560, lon=106.55)), roster, 1.5, 3)
    assert ids(first) == ["v0", "v1", "v2"]  # nobody alerted yet: the nearest


def test_the_default_widening_covers_two_rounded_places() -> None:
    """Needs and volunteers reach notify rounded to 0.01°: a distance between two rounded
    places is off by at most twice one place's error."""
    widened = NotifySettings.model_fields["notify_location_precision_km"].default
    assert widened >= 2 * COARSE_ERROR_KM


def test_coarse_locations_widen_the_radius_by_their_rounding() -> None:
    roster = {"v": entry(["elderly_care"], 29.578)}  # ~2 km away as rounded
    at = need(location=Location(lat=29.560, lon=106.55))
    assert match_volunteers(at, roster, 1.5, 5) == []
    assert ids(match_volunteers(at, roster, 1.5, 5, coarse_km=1.0)) == ["v"]


def test_distance_is_great_circle_kilometres() -> None:
    assert distance_km(29.56, 106.55, 29.57, 106.55) == pytest.approx(1.112, abs=0.005)


# --- addressees -------------------------------------------------------------------------


def claim_event(**overrides: object) -> dict[str, object]:
    base: dict[str, object] = {
        "need_id": "n1",
        "community_id": A,
        "category": "elderly_care",
        "kind": "wish",
        "claim_id": "c1",
        "claimant_type": "volunteer",
        "volunteer_ids": ["v1"],
        "slots": 1,
        "slots_total": 2,
        "slots_taken": 1,
        "need_status": "open",
        "requester_id": "r1",
    }
    return {**base, **overrides}


TEAMS = {"t1": TeamView(team_id="t1", community_id=A, leader_id="lead", member_ids=["m1", "m2"])}


def test_team_claim_reaches_the_requester_and_every_team_member_but_the_claimer() -> None:
    payload = ProjectClaimed(
        **claim_event(claimant_type="team", team_id="t1", volunteer_ids=["m1"]),  # type: ignore[arg-type]
        claimed_by="lead",
        posted_at=T0,
        claimed_at=T0,
    )
    found = addressees(payload, None, TEAMS)
    assert [(a.recipient_id, a.reason) for a in found] == [
        ("r1", "requester"),
        ("m1", "team"),
        ("m2", "team"),
    ]


def test_expired_release_tells_the_claimer_and_a_release_by_the_claimer_does_not() -> None:
    def released(reason: str, by: str) -> ProjectClaimReleased:
        return ProjectClaimReleased(
            **claim_event(),  # type: ignore[arg-type]
            reason=reason,
            released_by=by,
            released_at=T0,
        )

    assert ids(addressees(released("expired", "system"), None, {})) == ["r1", "v1"]
    assert ids(addressees(released("released", "v1"), None, {})) == ["r1"]
    assert ids(addressees(released("released", "admin-1"), None, {})) == ["r1", "v1"]


def test_confirmation_reaches_every_claimer_volunteers_teams_and_organisations() -> None:
    payload = TaskConfirmed(
        need_id="n1",
        community_id=A,
        category="elderly_care",
        kind="project",
        completion_id="done1",
        rating=5,
        volunteer_ids=["v1", "m1"],
        team_ids=["t1"],
        organization_ids=["org-1"],
        confirmed_by="r1",
        confirmed_at=T0,
    )
    assert ids(addressees(payload, None, TEAMS)) == ["v1", "m1", "lead", "m2", "org-1"]


def test_cancelled_need_tells_its_active_claimers_not_the_one_who_cancelled() -> None:
    view = NeedView(
        need_id="n1",
        community_id=A,
        category="elderly_care",
        claims={
            "c1": Claim(volunteer_ids=["v1"]),
            "c2": Claim(volunteer_ids=["v2"], status="released"),
            "c3": Claim(team_id="t1"),
        },
    )
    payload = NeedCancelled(
        need_id="n1",
        community_id=A,
        category="elderly_care",
        kind="wish",
        previous_status="open",
        requester_id="r1",
        cancelled_by="r1",
        cancelled_at=T0,
    )
    assert ids(addressees(payload, view, TEAMS)) == ["v1", "lead", "m1", "m2"]


def test_a_scope_covers_the_path_and_every_ancestor_scope_is_asked() -> None:
    assert OrgPath(A).ancestors() == ["zhongshan", "zhongshan.hongyan", A]


# --- channels ---------------------------------------------------------------------------


def sub(
    sid: str, channel: str, target: str, audience: str = "personal", **kw: object
) -> Subscription:
    return Subscription.model_validate(
        {
            "id": sid,
            "recipient_id": "v1",
            "channel": channel,
            "target": target,
            "scope": A,
            "audience": audience,
            "created_by": "v1",
            "created_at": T0 + timedelta(minutes=int(sid[-1])),
            **kw,
        }
    )


def test_addressed_recipient_hears_in_the_inbox_and_on_each_matching_subscription_once() -> None:
    profile = Profile(
        recipient_id="v1",
        subscriptions={
            "s1": sub("s1", "email", "old@example.org"),
            "s2": sub("s2", "email", "new@example.org"),  # same channel: the oldest wins
            "s3": sub("s3", "sms", "138", event_types=["org.tongxin.task.confirmed"]),
            "s4": sub("s4", "webhook", "https://x", categories=["medical"]),
        },
    )
    found = targets_for(
        Addressee("v1", "match"), profile, "org.tongxin.need.approved", A, "elderly_care"
    )
    assert [(t.channel, t.target) for t in found] == [("email", "old@example.org"), ("inapp", "v1")]
    muted = profile.model_copy(update={"preferences": Preferences(channels=["email"])})
    found = targets_for(Addressee("v1", "match"), muted, "org.tongxin.need.approved", A, "x")
    assert [t.channel for t in found] == ["email"]


def test_scope_subscriber_hears_only_through_their_scope_subscriptions() -> None:
    profile = Profile(
        recipient_id="adm",
        subscriptions={
            "s1": sub("s1", "email", "me@example.org"),
            "s2": sub("s2", "webhook", "https://x", audience="scope"),
        },
    )
    found = targets_for(
        Addressee("adm", "subscriber"), profile, "org.tongxin.project.claimed", A, None
    )
    assert [t.channel for t in found] == ["webhook"]
    outside = targets_for(Addressee("adm", "subscriber"), profile, "t", "elsewhere.x", None)
    assert outside == []


# --- when ---------------------------------------------------------------------------------


def test_quiet_hours_wrap_midnight_and_end_at_the_next_end_time() -> None:
    quiet = QuietHours(start=time(22), end=time(7))
    assert quiet.contains(time(23)) and quiet.contains(time(6, 59))
    assert not quiet.contains(time(7)) and not quiet.contains(time(12))
    assert quiet.end_after(datetime(2026, 3, 2, 23, 0, tzinfo=SH)) == datetime(
        2026, 3, 3, 7, 0, tzinfo=SH
    )
    day = QuietHours(start=time(12), end=time(14))
    assert day.contains(time(13)) and not day.contains(time(23))


def test_route_holds_interrupting_channels_through_quiet_hours() -> None:
    prefs = Preferences(quiet_hours=QuietHours(start=time(22), end=time(7)))
    route = decide_route(NOW, prefs, "Asia/Shanghai", 20, over_cap=False)
    assert route.mode == "held"
    assert route.due_at == datetime(2026, 3, 3, 7, 0, tzinfo=SH)
    assert plan_channel(route, "email", NOW) == ("send", route.due_at)
    assert plan_channel(route, "inapp", NOW) == ("send", NOW)
    assert plan_channel(route, "webhook", NOW) == ("send", NOW)
    awake = decide_route(NOW - timedelta(hours=2), prefs, "Asia/Shanghai", 20, over_cap=False)
    assert awake.mode == "now"


def test_digest_and_cap_fold_what_people_read_but_never_webhooks() -> None:
    digest = decide_route(NOW, Preferences(digest=True), "Asia/Shanghai", 20, over_cap=False)
    assert [plan_channel(digest, c, NOW)[0] for c in ("inapp", "email", "sms", "webhook")] == [
        "send",
        "fold",
        "fold",
        "send",
    ]
    capped = decide_route(NOW, Preferences(), "Asia/Shanghai", 20, over_cap=True)
    assert [plan_channel(capped, c, NOW)[0] for c in ("inapp", "email", "sms", "webhook")] == [
        "fold",
        "fold",
        "fold",
        "send",
    ]


def test_digest_goes_out_at_the_next_digest_hour_after_quiet_hours() -> None:
    at_ten = datetime(2026, 3, 2, 10, 0, tzinfo=SH)
    assert digest_slot(at_ten, Preferences(), "Asia/Shanghai", 20) == (
        "2026-03-02",
        datetime(2026, 3, 2, 20, 0, tzinfo=SH),
    )
    late = datetime(2026, 3, 2, 19, 59, 30, tzinfo=SH)  # too close: tomorrow's digest
    assert digest_slot(late, Preferences(), "Asia/Shanghai", 20)[0] == "2026-03-03"
    quiet = Preferences(quiet_hours=QuietHours(start=time(19), end=time(21, 30)))
    assert digest_slot(at_ten, quiet, "Asia/Shanghai", 20)[1] == datetime(
        2026, 3, 2, 21, 30, tzinfo=SH
    )


def test_route_round_trips_through_storage() -> None:
    route = decide_route(NOW, Preferences(digest=True), "Asia/Shanghai", 20, over_cap=False)
    assert Route.model_validate(route.model_dump()) == route
