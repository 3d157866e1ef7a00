"""The figures are declared once (services/metrics/domain/catalogue.py): the tally computes exactly
those names, the API's models describe them, the reports head them, the dashboard reads them
from the API; and each list behind a count is as long as the count, for a generated district
at every level."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from services.metrics.adapters import reports
from services.metrics.domain import catalogue, facts, figures, lists
from services.metrics.handlers.projection import FactCache
from services.metrics.schemas import DailyRow, NeedFigures, UnitFigures
from shared.events.registry import payload_of
from shared.events.volunteers import VolunteerRegistered
from tests.integration.test_metrics_scenario import DISTRICT, STREETS, TZ, generate_district

STATIC = Path(catalogue.__file__).parents[1] / "static"


def test_the_tally_the_api_and_the_daily_rows_give_exactly_the_catalogues_figures() -> None:
    names = set(catalogue.UNIT_FIGURES)
    assert set(figures.Tally().figures()) == names - {"pioneer_index"}
    assert names <= set(UnitFigures.model_fields)
    assert set(NeedFigures.model_fields) == set(catalogue.NEED_FIGURES)
    assert set(DailyRow.model_fields) == {"day", *catalogue.DAILY_FIGURES}
    for name in names:
        described = UnitFigures.model_fields[name].description or ""
        assert (
            catalogue.BY_NAME[name].zh in described
            and catalogue.BY_NAME[name].definition in described
        )
    assert all(f.name in figures.DEFINITIONS for f in catalogue.FIGURES)


def test_the_dashboard_spells_no_figure_label_of_its_own() -> None:
    code = "".join(p.read_text(encoding="utf-8") for p in STATIC.glob("*.js"))
    assert "v1/figures" in code
    for f in catalogue.FIGURES:
        assert f'"{f.zh}"' not in code, f.name


def facts_of_a_district() -> FactCache:
    d = generate_district(seed=11, needs_per_community=8)
    merged: dict[tuple[str, str], facts.Fact] = {}
    for _, event in d.events:
        payload = payload_of(event)
        key = facts.fact_key(payload)
        if key is None:
            continue
        fact = facts.merge(merged.get(key), event.id, payload)
        if fact is not None:
            merged[key] = fact
    c = FactCache()
    for (kind, _), fact in merged.items():
        c.put(kind, fact, 1)  # type: ignore[arg-type]
    return c


@pytest.mark.parametrize("span", [None, (6, 12)])
def test_every_list_behind_a_count_is_as_long_as_the_count_at_every_level(
    span: tuple[int, int] | None,
) -> None:
    c = facts_of_a_district()
    day0 = datetime(2026, 10, 1, tzinfo=TZ).date()
    first, last = (
        (day0 + timedelta(days=span[0]), day0 + timedelta(days=span[1])) if span else (None, None)
    )
    window = figures.window_of(first, last, TZ)
    active = figures.active_volunteers(c, window)
    now = datetime(2026, 10, 15, tzinfo=TZ)
    units = [DISTRICT, *(f"{DISTRICT}.{s}" for s in STREETS), f"{DISTRICT}.hongyan.dongfeng"]
    nonzero = 0
    for unit in units:
        got = figures.scope_stats(c, unit, window, active, now)
        for name in catalogue.LISTED:
            rows = lists.rows_behind(c, name, unit, window, active, now)
            assert len(rows) == got[name], (unit, name)
            nonzero += bool(rows)
        for slug, by_category in got["by_category"].items():
            rows = lists.rows_behind(c, "needs_posted", unit, window, active, now, slug)
            assert len(rows) == by_category["needs_posted"], (unit, slug)
    assert nonzero > 40  # the district has something behind most counts


def test_a_volunteers_list_shows_a_masked_name_and_no_phone() -> None:
    c = FactCache()
    vol = facts.merge(
        None,
        "e1",
        VolunteerRegistered(
            volunteer_id="v1",
            name="张三丰",
            home_community_id="zs.hy.df",
            party_org="中山区红岩街道党支部",
            registered_at=datetime(2026, 10, 2, tzinfo=TZ),
        ),
    )
    assert vol is not None
    c.put("volunteer", vol, 1)
    rows = lists.rows_behind(
        c, "party_members_registered", "zs", figures.Window(), set(), datetime.now(TZ)
    )
    assert rows == [
        {
            "volunteer_id": "v1",
            "name": "张**",
            "community": "zs.hy.df",
            "community_name": "df",
            "party_member": True,
            "registered_at": "2026-10-02T00:00:00+08:00",
        }
    ]
    assert "三丰" not in str(vol.model_dump())  # the store keeps no full name


def test_the_docs_carry_the_catalogues_table() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"
    assert catalogue.markdown_table() in docs.read_text(encoding="utf-8")


def test_a_party_member_is_known_by_the_flag_when_the_stream_carries_no_organisation() -> None:
    def merged(**party: object) -> facts.Fact | None:
        event = VolunteerRegistered(
            volunteer_id="v1",
            name="王**",
            home_community_id="zs.hy.df",
            registered_at=datetime(2026, 10, 2, tzinfo=TZ),
            **party,  # type: ignore[arg-type]
        )
        return facts.merge(None, "e1", event)

    assert getattr(merged(party_member=True), "party_org", None) is True
    assert getattr(merged(party_org="党支部"), "party_org", None) is True
    assert getattr(merged(), "party_org", None) is False


def test_reports_show_values_in_the_unit_that_fits() -> None:
    assert reports.duration(42) == "42 秒"
    assert reports.duration(165) == "2.8 分钟"  # not "0.0 小时"
    assert reports.duration(5400) == "1.5 小时"
    assert reports.duration(3 * 86400) == "3.0 天"
    assert reports.shown(0.5, "ratio") == "50.0%" and reports.shown(None, "ratio") == "—"
    assert reports.shown(123456, "fen") == "1,234.56 元"
    assert reports.shown(96.0, "hours") == "96.0 小时"
