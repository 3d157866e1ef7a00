"""The figures' definitions on small hand-made facts: windows by local day, cohort rates,
exact medians, and the pioneer index of communities and of the units above them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.metrics.domain import figures
from services.metrics.domain.facts import (
    ClaimFact,
    CompletionFact,
    Fact,
    FactKind,
    NeedFact,
    OrgUnitFact,
    VolunteerFact,
)
from services.metrics.handlers.projection import FactCache
from shared.events.needs import VolunteerHours

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 5, 0, 0, tzinfo=TZ)  # midnight in Shanghai = 16:00 UTC the day before
DF, XH = "zs.hy.df", "zs.hy.xh"
NOW = T0 + timedelta(days=30)  # when backlog figures are taken


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def need(
    need_id: str,
    community: str = DF,
    *,
    posted: float = 0,
    approved: float | None = 1,
    filled: float | None = None,
    completed: float | None = None,
    due: float | None = None,
    rating: int | None = None,
    volunteers: tuple[str, ...] = (),
) -> NeedFact:
    claims = {}
    if filled is not None:
        claims["c"] = ClaimFact(claimed_at=h(filled), filled=True, volunteer_ids=list(volunteers))
    completions = {}
    if completed is not None:
        completions["d"] = CompletionFact(
            completed_at=h(completed),
            hours=[VolunteerHours(volunteer_id=v, hours=1.5) for v in volunteers],
            confirmed_at=h(completed + 1) if rating else None,
            rating=rating,
        )
    return NeedFact(
        id=need_id,
        community=community,
        category="medical",
        posted_at=h(posted),
        approved_at=h(approved) if approved is not None else None,
        due_at=h(due) if due is not None else None,
        claims=claims,
        completions=completions,
    )


def cache(*facts: tuple[FactKind, Fact]) -> FactCache:
    c = FactCache()
    for kind, fact in facts:
        c.put(kind, fact, 1)
    return c


def window(first: date | None = None, last: date | None = None) -> figures.Window:
    return figures.window_of(first, last, TZ)


def stats(c: FactCache, scope: str, w: figures.Window) -> dict[str, object]:
    return figures.scope_stats(c, scope, w, figures.active_volunteers(c, w), NOW)


def test_a_day_is_the_calendar_day_in_the_configured_time_zone() -> None:
    just_after_midnight = need("n1", posted=0.5)  # 2026-10-04 16:30 UTC
    c = cache(("need", just_after_midnight))
    assert stats(c, "zs", window(date(2026, 10, 5), date(2026, 10, 5)))["needs_posted"] == 1
    assert stats(c, "zs", window(date(2026, 10, 4), date(2026, 10, 4)))["needs_posted"] == 0
    assert just_after_midnight.posted_at is not None
    assert just_after_midnight.posted_at.astimezone(UTC).day == 4


def test_claim_rate_is_of_the_needs_approved_in_the_window_even_if_claimed_after_it() -> None:
    c = cache(
        ("need", need("a", approved=1, filled=30)),  # claimed the next day
        ("need", need("b", approved=2)),
        ("need", need("c", approved=-30, filled=3)),  # approved the day before
    )
    day = stats(c, "zs", window(date(2026, 10, 5), date(2026, 10, 5)))
    assert day["needs_approved"] == 2 and day["needs_claimed"] == 1
    assert day["claim_rate"] == 0.5  # a of {a, b}; c was approved outside the window
    assert day["completion_rate"] == 0.0
    assert stats(c, "zs.qx", window())["claim_rate"] is None  # nothing approved: null


def test_medians_are_exact_with_the_mean_of_the_middle_two_for_an_even_count() -> None:
    c = cache(
        ("need", need("a", approved=0, filled=1, completed=11)),
        ("need", need("b", approved=0, filled=2, completed=6)),
        ("need", need("c", approved=0, filled=4)),
        ("need", need("d", approved=0, filled=10)),
    )
    figures_ = stats(c, "zs", window())
    assert figures_["median_time_to_claim_s"] == 3 * 3600  # (2 h + 4 h) / 2
    assert figures_["median_time_to_complete_s"] == 7 * 3600  # (4 h + 10 h) / 2
    assert figures.median([]) is None and figures.median([5.0]) == 5.0


def test_pioneer_index_weighs_the_five_parts_and_counts_a_missing_part_as_zero() -> None:
    perfect = {
        "completion_rate": 1.0,
        "claim_rate": 1.0,
        "volunteers_active": figures.catalogue.ACTIVE_VOLUNTEERS_NORM,
        "average_rating": 5.0,
        "on_time_rate": 1.0,
    }
    assert figures.pioneer_index(perfect) == pytest.approx(100.0)
    assert figures.pioneer_index({**perfect, "average_rating": 1.0}) == pytest.approx(85.0)
    nothing = dict.fromkeys(perfect)
    assert figures.pioneer_index(nothing) == 0.0
    assert figures.pioneer_index({**nothing, "claim_rate": 0.5}) == pytest.approx(12.5)
    more = {**perfect, "volunteers_active": 1000}  # participation is full marks at the norm
    assert figures.pioneer_index(more) == pytest.approx(100.0)
    assert figures.pioneer_index({**nothing, "volunteers_active": 10}) == pytest.approx(10.0)


def test_a_streets_pioneer_index_is_the_mean_of_its_communities_active_or_not() -> None:
    c = cache(
        ("org_unit", OrgUnitFact(id=XH, community=XH, name="新华社区", level="community")),
        ("volunteer", VolunteerFact(id="v1", community=DF, registered_at=h(-100))),
        ("volunteer", VolunteerFact(id="v2", community=DF, registered_at=h(-100))),
        (
            "need",
            need("a", approved=0, filled=1, completed=5, due=10, rating=5, volunteers=("v1",)),
        ),
    )
    got = stats(c, "zs.hy", window())
    children = {child["scope"]: child for child in got["children"]}  # type: ignore[attr-defined]
    # DF: completion 1, claim 1, participation 1 active of a norm of 20, rating (5-1)/4,
    # on time 1
    assert children[DF]["pioneer_index"] == pytest.approx(81.0)
    assert children[DF]["volunteer_participation"] == 0.5
    assert children[DF]["volunteers_active"] == 1
    assert children[XH]["pioneer_index"] == 0.0 and children[XH]["name"] == "新华社区"
    assert got["pioneer_index"] == pytest.approx(40.5)
    assert got["volunteer_hours"] == 1.5 and got["on_time_rate"] == 1.0


def test_daily_rows_cover_every_day_of_the_window_with_zeros_where_nothing_happened() -> None:
    c = cache(("need", need("a", posted=0, approved=30, filled=50)))
    rows = figures.daily(c, "zs", date(2026, 10, 4), date(2026, 10, 7), TZ)
    assert [r["day"] for r in rows] == ["2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"]
    assert [r["needs_posted"] for r in rows] == [0, 1, 0, 0]
    assert [r["needs_approved"] for r in rows] == [0, 0, 1, 0]
    assert [r["needs_claimed"] for r in rows] == [0, 0, 0, 1]


def test_registering_a_thousand_more_volunteers_never_lowers_a_communitys_pioneer_index() -> None:
    base: list[tuple[FactKind, Fact]] = [
        ("volunteer", VolunteerFact(id=f"v{i}", community=DF, registered_at=h(-100)))
        for i in range(5)
    ]
    done = need("a", approved=0, filled=1, completed=5, due=10, rating=4, volunteers=("v0", "v1"))
    before = stats(cache(*base, ("need", done)), DF, window())
    more: list[tuple[FactKind, Fact]] = [
        ("volunteer", VolunteerFact(id=f"new{i}", community=DF, registered_at=h(2)))
        for i in range(1000)
    ]
    after = stats(cache(*base, *more, ("need", done)), DF, window())
    assert after["volunteers_registered"] == before["volunteers_registered"] + 1000  # type: ignore[operator]
    assert after["volunteer_participation"] < before["volunteer_participation"]  # type: ignore[operator]
    assert after["pioneer_index"] >= before["pioneer_index"]  # type: ignore[operator]
    assert after["pioneer_index"] == pytest.approx(before["pioneer_index"])


def test_party_members_are_the_volunteers_with_a_party_organisation_recorded() -> None:
    c = cache(
        ("volunteer", VolunteerFact(id="p", community=DF, registered_at=h(1), party_org=True)),
        ("volunteer", VolunteerFact(id="q", community=DF, registered_at=h(2))),
        ("volunteer", VolunteerFact(id="r", community=XH, registered_at=h(3), party_org=True)),
    )
    got = stats(c, "zs", window())
    assert got["volunteers_registered"] == 3 and got["party_members_registered"] == 2
    assert stats(c, DF, window())["party_members_registered"] == 1


def test_backlog_figures_are_the_needs_in_a_state_now_whatever_the_window() -> None:
    waiting = need("w", posted=-24 * 40, approved=None)  # posted 40 days before NOW - 30 d
    fresh = need("f", posted=24 * 29.5, approved=None)  # posted half a day before NOW
    overdue = need("o", approved=0, filled=1, due=24)
    unconfirmed = need("u", approved=0, filled=1, completed=5)
    c = cache(*(("need", n) for n in (waiting, fresh, overdue, unconfirmed)))
    for w in (window(), window(date(2026, 1, 1), date(2026, 1, 2))):
        got = stats(c, "zs", w)
        assert got["pending_review_over_3d"] == 1
        assert got["claimed_overdue"] == 1
        assert got["completed_unconfirmed"] == 1
