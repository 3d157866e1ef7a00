"""Reports and lists on the real broker and FerretDB: the workbook of a generated district
holds exactly the figures of /v1/stats for the district and each child, the CSV the same
values, the monthly page the headline figures; lists are as long as their counts; and
1,000 more volunteers reported in leave a community's pioneer index where it was."""

from __future__ import annotations

import csv
import io
import logging
import uuid
from datetime import date, timedelta
from typing import Any

import pytest
import structlog
from openpyxl import load_workbook
from structlog.testing import capture_logs

from services.metrics.adapters import reports
from services.metrics.app import create_app
from services.metrics.domain import catalogue
from shared.events.envelope import CloudEvent
from shared.events.volunteers import VolunteerRegistered
from shared.settings import Settings
from shared.visibility import FIELD_MATRIX, Reader
from tests.helpers import auth, eventually, running
from tests.integration.test_metrics_scenario import (
    DISTRICT,
    SUB_WINDOW,
    caught_up,
    generate_district,
    publish,
    stats_of,
)

COMMUNITY = f"{DISTRICT}.hongyan.dongfeng"


def sheet_values(rows: list[tuple[Any, ...]]) -> dict[str, Any]:
    """{figure: value} of a figures sheet (header first; the name in column A, value in E)."""
    assert list(rows[0]) == reports.FIGURE_HEADER
    return {row[0]: row[4] for row in rows[1:]}


def same(got: Any, want: Any, where: str) -> None:
    if isinstance(want, float) or isinstance(got, float):
        assert got == pytest.approx(want, rel=1e-12, abs=1e-12), where
    else:
        assert got == want, where


async def test_the_workbook_of_a_district_holds_the_figures_of_stats_for_it_and_each_child(
    settings: Settings,
) -> None:
    d = generate_district(seed=5, needs_per_community=4)
    operator = auth(settings, "operator", DISTRICT)
    first, last = SUB_WINDOW
    window = {"scope": DISTRICT, "from": first.isoformat(), "to": last.isoformat()}
    async with running(create_app(settings)) as client:
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        wrapper = structlog.get_config()["wrapper_class"]
        try:
            with capture_logs() as logs:
                structlog.configure(
                    wrapper_class=structlog.make_filtering_bound_logger(logging.INFO)
                )
                r = await client.get("/v1/reports/summary.xlsx", params=window, headers=operator)
        finally:
            structlog.configure(wrapper_class=wrapper)
        exported = [e for e in logs if e["event"] == "report_exported"]
        assert exported and exported[0]["scope"] == DISTRICT
        assert exported[0]["role"] == "operator" and exported[0]["sub"]
        book = load_workbook(io.BytesIO(r.content), read_only=True)
        sheets = {ws.title: list(ws.iter_rows(values_only=True)) for ws in book.worksheets}

        district = await stats_of(client, settings, DISTRICT, first, last)
        units = [(reports.SUMMARY_SHEET, district)]
        for child in district["children"]:
            # the child's own /v1/stats answer, not only its row in the district's
            units.append(
                (
                    f"{child['name']} {child['scope']}",
                    await stats_of(client, settings, child["scope"], first, last),
                )
            )
        assert len(units) == 4
        for title, stats in units:
            values = sheet_values(sheets[title])
            assert list(values) == list(catalogue.UNIT_FIGURES), title
            for name in catalogue.UNIT_FIGURES:
                same(values[name], stats[name], f"{title}: {name}")
        # a sheet per category, with the need figures
        for slug, figures in district["by_category"].items():
            title = next(t for t in sheets if t.startswith("类别") and t.endswith(slug))
            values = sheet_values(sheets[title])
            for name in catalogue.NEED_FIGURES:
                same(values[name], figures[name], f"{slug}: {name}")
        # the daily series, day by day, as /v1/stats/daily gives it
        daily = (await client.get("/v1/stats/daily", params=window, headers=operator)).json()
        rows = sheets[reports.DAILY_SHEET]
        assert rows[0][0] == "日期 Day" and "需求征集（个）" in rows[0]
        assert [row[0] for row in rows[1:]] == [day["day"] for day in daily["days"]]
        for row, day in zip(rows[1:], daily["days"], strict=True):
            assert list(row[1:]) == [day[n] for n in catalogue.DAILY_FIGURES]

        # the CSV: the same sheets in one table
        r = await client.get("/v1/reports/summary.csv", params=window, headers=operator)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        table = list(csv.reader(io.StringIO(r.text.lstrip("\ufeff"))))
        summary = {row[1]: row[5] for row in table if row[0] == reports.SUMMARY_SHEET}
        assert int(summary["needs_posted"]) == district["needs_posted"]
        assert float(summary["volunteer_hours"]) == pytest.approx(district["volunteer_hours"])

        # scoped like the stats: a street's operator may not export the district
        street_op = auth(settings, "operator", f"{DISTRICT}.hongyan")
        r = await client.get("/v1/reports/summary.xlsx", params=window, headers=street_op)
        assert r.status_code == 404
        r = await client.get("/v1/reports/summary.csv", params=window)
        assert r.status_code == 401


async def test_the_monthly_page_lists_headline_figures_funnel_trend_and_ranking(
    settings: Settings,
) -> None:
    d = generate_district(seed=6, needs_per_community=3)
    operator = auth(settings, "operator", DISTRICT)
    async with running(create_app(settings)) as client:
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        r = await client.get(
            "/v1/reports/monthly", params={"scope": DISTRICT, "month": "2026-10"}, headers=operator
        )
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        page = r.text
        october = await stats_of(client, settings, DISTRICT, date(2026, 10, 1), date(2026, 10, 31))
        assert "中山区 2026-10 月度报告" in page
        assert 'data-figure="needs_posted"><div class="label">需求征集</div>' in page
        assert f'<div class="value">{october["needs_posted"]:,}</div>' in page
        assert page.count("<polyline") == 3 and "先锋指数 = 100" in page
        assert "<script" not in page and "onclick" not in page  # fine under script-src 'self'
        assert page.count("<tr><td>") >= 12 + 3  # ranking rows and the streets
        assert "https://" not in page and "http://" not in page.replace(
            "http://www.w3.org/2000/svg", ""
        )
        bad = await client.get(
            "/v1/reports/monthly", params={"scope": DISTRICT, "month": "2026-13"}, headers=operator
        )
        assert bad.status_code == 422


async def test_lists_behind_counts_are_as_long_as_the_counts_and_hide_personal_data(
    settings: Settings,
) -> None:
    d = generate_district(seed=8, needs_per_community=3)
    operator = auth(settings, "operator", DISTRICT)
    async with running(create_app(settings)) as client:
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        stats = await stats_of(client, settings, COMMUNITY)
        for name in catalogue.LISTED:
            r = await client.get(f"/v1/lists/{name}", params={"scope": COMMUNITY}, headers=operator)
            assert r.status_code == 200, r.text
            body = r.json()
            assert body["total"] == len(body["items"]) == stats[name], name
        # the field matrix's list_rows: operators ("other") and admins in scope see names
        # masked (metrics holds no whole name); residents and volunteers are refused
        readers: dict[Reader, dict[str, str]] = {
            "other": operator,
            "admin_in_scope": auth(settings, "community_admin", COMMUNITY),
        }
        assert set(FIELD_MATRIX["list_rows"]) == set(readers)
        for reader, headers in readers.items():
            vols = await client.get(
                "/v1/lists/volunteers_registered", params={"scope": COMMUNITY}, headers=headers
            )
            assert FIELD_MATRIX["list_rows"][reader]["items.name"] == "masked"
            assert vols.json()["items"] and all(v["name"] == "志**" for v in vols.json()["items"])
            assert "phone" not in vols.text
        for role in ("resident", "volunteer"):
            refused = await client.get(
                "/v1/lists/volunteers_registered",
                params={"scope": COMMUNITY},
                headers=auth(settings, role, COMMUNITY),
            )
            assert refused.status_code == 403, refused.text
        missing = await client.get(
            "/v1/lists/claim_rate", params={"scope": COMMUNITY}, headers=operator
        )
        assert missing.status_code == 404 and "没有明细" in missing.json()["error"]["message"]


async def test_a_thousand_more_volunteers_leave_a_communitys_pioneer_index_unchanged(
    settings: Settings,
) -> None:
    d = generate_district(seed=12, needs_per_community=4)
    async with running(create_app(settings)) as client:
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        before = await stats_of(client, settings, COMMUNITY)
        at = max(v.registered_at for v in d.volunteers)
        more = [
            (
                "volunteers",
                CloudEvent.wrap(
                    VolunteerRegistered(
                        volunteer_id=f"bulk-{uuid.uuid4().hex[:10]}",
                        name="新志愿者",
                        home_community_id=COMMUNITY,
                        registered_at=at + timedelta(minutes=i),
                    ),
                    time=at,
                ),
            )
            for i in range(1000)
        ]
        await publish(settings, more)

        async def all_counted() -> dict[str, Any] | None:
            body = await stats_of(client, settings, COMMUNITY)
            done = body["volunteers_registered"] == before["volunteers_registered"] + 1000
            return body if done else None

        after = await eventually(all_counted, timeout=120, interval=0.5)
        assert after["volunteer_participation"] < before["volunteer_participation"]
        assert after["pioneer_index"] >= before["pioneer_index"] - 1e-9
        assert after["pioneer_index"] == pytest.approx(before["pioneer_index"])
