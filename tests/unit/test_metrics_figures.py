"""The figures' definitions on small hand-made facts: windows by local day, cohort rates,
exact medians, and the pioneer index of communities and of the units above them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from services.metrics import figures
from services.metrics.domain import (
    ClaimFact,
    CompletionFact,
    Fact,
    FactKind,
    NeedFact,
    OrgUnitFact,
    VolunteerFact,
)
from services.metrics.projection import FactCache
from shared.events.needs import VolunteerHours

TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 10, 5, 0, 0, tzinfo=TZ)  # midnight in Shanghai = 16:00 UTC the day before
DF, XH = "zs.hy.df", "zs.hy.xh"


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
    return figures.scope_stats(c, scope, w, figures.active_volunteers(c, w))


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
        "volunteer_participation": 1.0,
        "average_rating": 5.0,
        "on_time_rate": 1.0,
    }
    assert figures.pioneer_index(perfect) == pytest.approx(100.0)
    assert figures.pioneer_index({**perfect, "average_rating": 1.0}) == pytest.approx(85.0)
    nothing = dict.fromkeys(perfect)
    assert figures.pioneer_index(nothing) == 0.0
    assert figures.pioneer_index({**nothing, "claim_rate": 0.5}) == pytest.approx(12.5)


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
    # DF: completion 1, claim 1, participation 1/2, rating (5-1)/4, on time 1
    assert children[DF]["pioneer_index"] == pytest.approx(90.0)
    assert children[DF]["volunteer_participation"] == 0.5
    assert children[XH]["pioneer_index"] == 0.0 and children[XH]["name"] == "新华社区"
    assert got["pioneer_index"] == pytest.approx(45.0)
    assert got["volunteer_hours"] == 1.5 and got["on_time_rate"] == 1.0


def test_daily_rows_cover_every_day_of_the_window_with_zeros_where_nothing_happened() -> None:
    c = cache(("need", need("a", posted=0, approved=30, filled=50)))
    rows = figures.daily(c, "zs", date(2026, 10, 4), date(2026, 10, 7), TZ)
    assert [r["day"] for r in rows] == ["2026-10-04", "2026-10-05", "2026-10-06", "2026-10-07"]
    assert [r["needs_posted"] for r in rows] == [0, 1, 0, 0]
    assert [r["needs_approved"] for r in rows] == [0, 0, 1, 0]
    assert [r["needs_claimed"] for r in rows] == [0, 0, 0, 1]
