"""The stats API around the figures: who may read them, windows, daily series, ranking,
category names, the dashboard's files, restarts and events that arrive out of order."""

from __future__ import annotations

import asyncio
import re
from datetime import date, timedelta
from typing import Any

import httpx

from services.metrics.app import create_app
from shared.events.envelope import CloudEvent
from shared.settings import Settings
from tests.helpers import auth, eventually, running
from tests.integration.test_metrics_scenario import (
    DISTRICT,
    SUB_WINDOW,
    District,
    caught_up,
    expected_unit,
    generate_district,
    publish,
    stats_of,
)

COMMUNITY = f"{DISTRICT}.hongyan.dongfeng"


def small_district(seed: int = 4) -> District:
    return generate_district(seed=seed, needs_per_community=3)


async def test_figures_are_read_by_admins_and_operators_inside_their_scope_only(
    settings: Settings,
) -> None:
    async with running(create_app(settings)) as client:

        async def status(headers: dict[str, str], scope: str = COMMUNITY, **params: str) -> int:
            r = await client.get("/v1/stats", params={"scope": scope, **params}, headers=headers)
            if r.status_code >= 400:
                body = r.json()["error"]
                assert body["code"] and body["message"]
            return r.status_code

        assert await status({}) == 401
        assert await status({"Authorization": "Bearer not-a-token"}) == 401
        for role, scope in [
            ("operator", DISTRICT),
            ("district_admin", DISTRICT),
            ("street_admin", f"{DISTRICT}.hongyan"),
            ("community_admin", COMMUNITY),
            ("service", DISTRICT),
        ]:
            assert await status(auth(settings, role, scope)) == 200, role
        assert await status(auth(settings, "operator", f"{DISTRICT}.qingxi")) == 404
        assert await status(auth(settings, "community_admin", f"{COMMUNITY}x")) == 404
        assert await status(auth(settings, "resident", COMMUNITY)) == 403
        assert await status(auth(settings, "volunteer", COMMUNITY)) == 403
        operator = auth(settings, "operator", DISTRICT)
        assert await status(operator, scope="zhongshan..x") == 422
        assert await status(operator, **{"from": "2026-13-01"}) == 422
        assert await status(operator, **{"from": "2026-10-05", "to": "2026-10-01"}) == 422
        for path in ("/v1/stats/daily", "/v1/stats/ranking"):
            r = await client.get(path, params={"scope": COMMUNITY})
            assert r.status_code == 401
            r = await client.get(path, params={"scope": COMMUNITY}, headers=operator)
            assert r.status_code == 200, r.text
        long = {"scope": DISTRICT, "from": "2025-01-01", "to": "2026-06-01"}
        assert (
            await client.get("/v1/stats/daily", params=long, headers=operator)
        ).status_code == 422
        # a scope nobody has heard of yet (the projection may lag) reads as zeros
        r = await client.get("/v1/stats", params={"scope": f"{DISTRICT}.new"}, headers=operator)
        assert r.status_code == 200 and r.json()["needs_posted"] == 0
        assert r.json()["claim_rate"] is None and r.json()["pioneer_index"] is None


async def test_daily_series_add_up_to_the_window_and_ranking_orders_communities(
    settings: Settings,
) -> None:
    d = small_district()
    operator = auth(settings, "operator", DISTRICT)
    first, last = SUB_WINDOW
    async with running(create_app(settings)) as client:
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        window = {"scope": DISTRICT, "from": first.isoformat(), "to": last.isoformat()}
        r = await client.get("/v1/stats/daily", params=window, headers=operator)
        assert r.status_code == 200, r.text
        daily = r.json()
        assert [row["day"] for row in daily["days"]] == [
            (first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)
        ]
        total = await stats_of(client, settings, DISTRICT, first, last)
        for name in ("needs_posted", "claims", "needs_claimed", "tasks_completed", "teams"):
            assert sum(row[name] for row in daily["days"]) == total[name], name
        assert sum(r["volunteer_hours"] for r in daily["days"]) == total["volunteer_hours"]

        r = await client.get("/v1/stats/ranking", params={"scope": DISTRICT}, headers=operator)
        items = r.json()["items"]
        assert len(items) == 12 and [i["rank"] for i in items] == list(range(1, 13))
        indices = [i["pioneer_index"] for i in items]
        assert indices == sorted(indices, reverse=True)
        for item in items[:3]:
            wanted = expected_unit(d, item["scope"], None, None)["pioneer_index"]
            assert abs(item["pioneer_index"] - wanted) < 1e-9
        street = await client.get(
            "/v1/stats/ranking",
            params={"scope": f"{DISTRICT}.hongyan", "limit": 2},
            headers=operator,
        )
        assert [i["scope"].rsplit(".", 1)[0] for i in street.json()["items"]] == [
            f"{DISTRICT}.hongyan"
        ] * 2


async def test_category_names_are_chinese_first_with_english_and_configured_extras(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"extra_categories": ["river_cleanup"]})
    async with running(create_app(settings)) as client:
        r = await client.get("/v1/categories", headers=auth(settings, "operator", DISTRICT))
        names = {c["slug"]: c for c in r.json()["items"]}
        assert names["elderly_care"] == {
            "slug": "elderly_care",
            "zh": "老有所养",
            "en": "Elderly care",
        }
        assert len(names) == 15 and names["river_cleanup"]["zh"] == "river_cleanup"


async def test_dashboard_is_served_as_static_files_that_load_nothing_from_outside(
    settings: Settings,
) -> None:
    async with running(create_app(settings)) as client:
        page = await client.get("/dashboard")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert 'content="15"' in html  # the refresh interval from settings
        # relative, so that the page works behind a gateway's path prefix
        assets = re.findall(r'(?:src|href)="(dashboard/assets/[^"]+)"', html)
        assert sorted(assets) == [
            "dashboard/assets/dashboard.css",
            "dashboard/assets/dashboard.js",
            "dashboard/assets/orgpath.js",
        ]
        bodies = [html]
        for asset in assets:
            r = await client.get("/" + asset)
            assert r.status_code == 200
            assert ("javascript" if asset.endswith(".js") else "css") in r.headers["content-type"]
            bodies.append(r.text)
        for body in bodies:
            urls = re.findall(r"https?://[^\s\"')]+", body)
            assert urls in ([], ["http://www.w3.org/2000/svg"]), urls
        schema = (await client.get("/openapi.json")).json()
        described = schema["paths"]["/v1/stats"]["get"]["description"]
        for term in ("claim_rate", "completion_rate", "pioneer_index", "null", "median"):
            assert term in described


async def _district_figures(client: httpx.AsyncClient, settings: Settings) -> dict[str, Any]:
    body = await stats_of(client, settings, DISTRICT)
    return {k: v for k, v in body.items() if k != "generation"}


async def test_figures_survive_a_restart_and_events_redelivered_after_it_count_once(
    settings: Settings,
) -> None:
    d = small_district(seed=9)
    async with running(create_app(settings)) as client:
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        before = await _district_figures(client, settings)
    async with running(create_app(settings)) as client:
        assert await _district_figures(client, settings) == before
        await publish(settings, d.events)  # every event again, after the restart
        marker = d.events[-1][1]
        probe = CloudEvent.wrap(
            _posted_like(marker, "n-late"), event_id="late-need", time=marker.time
        )
        await publish(settings, [("needs", probe)])

        async def late_counted() -> bool:
            body = await stats_of(client, settings, DISTRICT)
            return bool(body["needs_posted"] == before["needs_posted"] + 1)

        await eventually(late_counted, timeout=60)
        after = await _district_figures(client, settings)
        assert {
            **after,
            "needs_posted": 0,
            "by_category": 0,
            "children": 0,
            "pioneer_index": 0,
            "pending_review_over_3d": 0,  # the late need waits for review
        } == {
            **before,
            "needs_posted": 0,
            "by_category": 0,
            "children": 0,
            "pioneer_index": 0,
            "pending_review_over_3d": 0,  # the late need waits for review
        }


def _posted_like(event: CloudEvent, need_id: str) -> Any:
    from shared.events.needs import NeedPosted

    return NeedPosted(
        need_id=need_id,
        community_id=COMMUNITY,
        category="other",
        kind="wish",
        title="迟到的需求",
        slots=1,
        beneficiaries=1,
        requester_id="r",
        posted_by="r",
        status="pending_review",
        posted_at=event.time,
    )


async def test_a_completion_that_arrives_before_its_claim_still_ends_in_the_right_figures(
    settings: Settings,
) -> None:
    d = small_district(seed=13)
    # every need's events in reverse order: completion and confirmation before the claims,
    # the claims before the approval, the approval before the posting
    reversed_events = list(reversed(d.events))
    async with running(create_app(settings)) as client:
        await publish(settings, reversed_events)
        await caught_up(client, settings, d)
        district = await stats_of(client, settings, DISTRICT)
        wanted = expected_unit(d, DISTRICT, None, None)
        for name in ("needs_claimed", "tasks_completed", "median_time_to_claim_s", "claim_rate"):
            assert district[name] == wanted[name], name
        window = await stats_of(client, settings, DISTRICT, date(2026, 10, 5), date(2026, 10, 9))
        wanted = expected_unit(d, DISTRICT, date(2026, 10, 5), date(2026, 10, 9))
        for name in ("needs_posted", "needs_claimed", "tasks_completed", "volunteer_hours"):
            assert window[name] == wanted[name], name


async def test_two_instances_sharing_the_partitions_each_answer_the_whole_districts_figures(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"metrics_refresh_s": 1.0})
    d = small_district(seed=17)
    async with running(create_app(settings)) as first, running(create_app(settings)) as second:
        await publish(settings, d.events)
        await caught_up(first, settings, d)
        await caught_up(second, settings, d)
        assert await _district_figures(first, settings) == await _district_figures(second, settings)


async def test_an_instance_is_not_ready_until_its_facts_are_loaded(settings: Settings) -> None:
    app = create_app(settings)
    async with running(app) as client:
        await asyncio.wait_for(app.state.deps.ready.wait(), 30)
        assert (await client.get("/readyz")).status_code == 200
        app.state.deps.ready.clear()  # as before its first load finished
        resp = await client.get("/readyz")
        assert resp.status_code == 503
        assert "projection" in resp.json()["reasons"]
        app.state.deps.ready.set()
        assert (await client.get("/readyz")).status_code == 200
