"""The audit's bad inputs (issue 19, "Input handling"), each refused with a 4xx that names
the field in Chinese and English and changes nothing; headers and bodies bounded; error
bodies without exception text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx

from services.metrics.app import create_app as metrics_app
from services.volunteers.app import create_app as volunteers_app
from shared.settings import Settings
from tests.helpers import auth, events_of, read_topic, running
from tests.integration.test_notify_support import notify_service, notify_settings
from tests.integration.test_volunteers_registry import COMMUNITY, report_in, seed_tree
from tests.needs_support import need_body, needs_service

# Invisible and control characters the audit put in every name (40 of 40 accepted).
BAD_NAMES = {
    "NUL": "王\x00阿姨",
    "ESC": "\x1b[31m王阿姨",
    "right-to-left override": "王\u202e姨阿",
    "zero-width only": "\u200b\u200b",
    "BOM": "\ufeff王阿姨",
    "spaces only": "   \u3000 ",
}


def error_of(resp: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = resp.json()["error"]
    return error


def names(resp: httpx.Response, field: str, chinese: str) -> bool:
    """The error names the field in its details and in Chinese in its message."""
    error = error_of(resp)
    return chinese in error["message"] and any(
        field in d["field"].split(".") for d in error["details"]
    )


async def test_needs_refuse_invisible_names_out_of_range_points_and_far_dates(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", "zhongshan.hongyan.dongfeng", sub="res-1")
    cases: list[tuple[str, dict[str, Any], str, str]] = []
    for what, bad in BAD_NAMES.items():
        cases.append((f"title: {what}", need_body(title=bad), "title", "标题"))
        requester = {"name": bad, "phone": "13812345678"}
        cases.append((f"requester: {what}", need_body(requester=requester), "name", "名称"))
    cases += [
        ("skill with a bidi override", need_body(skills=["\u202ecook"]), "skills", "技能"),
        ("due_at in year 9999", need_body(due_at="9999-12-31T00:00:00Z"), "due_at", "截止时间"),
        ("lon false", need_body(location={"lat": 0, "lon": False}), "lon", "经度"),
        ("lat 1000", need_body(location={"lat": 1000, "lon": 0}), "lat", "纬度须在 -90 到 90"),
        ("lon -5000", need_body(location={"lat": 0, "lon": -5000}), "lon", "经度须在 -180"),
        ("lat 1e308", need_body(location={"lat": 1e308, "lon": 0}), "lat", "纬度"),
        ("slots as text", need_body(slots="1"), "slots", "名额须为整数"),
    ]
    async with needs_service(settings) as (app, client):
        for what, body, field, chinese in cases:
            resp = await client.post("/v1/needs", json=body, headers=resident)
            assert resp.status_code == 422, (what, resp.text)
            assert names(resp, field, chinese), (what, resp.text)
        nan = json.dumps(need_body(location={"lat": 0, "lon": 0})).replace('"lat": 0', '"lat": NaN')
        resp = await client.post(
            "/v1/needs", content=nan, headers={**resident, "content-type": "application/json"}
        )
        assert resp.status_code == 422 and names(resp, "lat", "纬度须为有限数字"), resp.text
        # a name is stored normalised: NFC, trimmed
        resp = await client.post(
            "/v1/needs", json=need_body(title="  Cafe\u0301 买菜 "), headers=resident
        )
        assert resp.status_code == 201 and resp.json()["title"] == "Caf\u00e9 买菜", resp.text
        assert await app.state.deps.repo.store.heads.count_documents({}) == 1


async def test_the_chinese_message_gives_the_range_of_a_rating(settings: Settings) -> None:
    resident = auth(settings, "resident", "zhongshan.hongyan.dongfeng", sub="res-1")
    async with needs_service(settings) as (_, client):
        resp = await client.post("/v1/needs/n-1/confirmation", json={"rating": 6}, headers=resident)
        assert resp.status_code == 422
        assert error_of(resp)["message"].startswith("评分须在 1 到 5 之间 / rating:"), resp.text
        resp = await client.get("/v1/needs", params={"limit": 0}, headers=resident)
        assert "每页条数须在 1 到 200 之间" in error_of(resp)["message"], resp.text
        resp = await client.get("/v1/nowhere", headers=resident)
        assert resp.status_code == 404 and error_of(resp)["message"].startswith("未找到")


async def test_volunteers_refuse_bad_names_nan_locations_and_non_integer_points(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    async with running(volunteers_app(settings)) as client:
        await seed_tree(client, settings)
        store = client  # all refusals below happen before anything is stored
        cases: list[tuple[str, str, dict[str, Any], str]] = []
        for what, bad in BAD_NAMES.items():
            cases += [
                (what, "/v1/volunteers", report_in(bad, "13812345678"), "name"),
                (
                    what,
                    "/v1/volunteers",
                    report_in("李红", "13812345679", party_org=bad),
                    "party_org",
                ),
                (
                    what,
                    "/v1/organizations",
                    {"name": bad, "kind": "enterprise", "community_id": COMMUNITY},
                    "name",
                ),
                (what, "/v1/volunteers/v-1/redemptions", {"item": bad, "points": 5}, "item"),
                (
                    what,
                    "/v1/supermarket/items",
                    {"community_id": COMMUNITY, "name": bad, "points": 5, "stock": 1},
                    "name",
                ),
            ]
        cases += [
            (
                "points as text",
                "/v1/volunteers/v-1/redemptions",
                {"item": "米", "points": "1"},
                "points",
            ),
            (
                "points true",
                "/v1/volunteers/v-1/redemptions",
                {"item": "米", "points": True},
                "points",
            ),
            (
                "lat 1000",
                "/v1/volunteers",
                report_in("李红", "13812345679", location={"lat": 1000, "lon": 0}),
                "lat",
            ),
            (
                "lon false",
                "/v1/volunteers",
                report_in("李红", "13812345679", location={"lat": 0, "lon": False}),
                "lon",
            ),
            (
                "pledge as text",
                "/v1/volunteers",
                report_in("李红", "13812345679", pledge_signed="true"),
                "pledge_signed",
            ),
        ]
        for what, path, body, field in cases:
            resp = await store.post(path, json=body, headers=admin)
            assert resp.status_code == 422, (what, path, resp.text)
            assert any(d["field"].endswith(field) for d in error_of(resp)["details"]), resp.text
        for what, bad in BAD_NAMES.items():
            resp = await client.put(f"/v1/orgs/{COMMUNITY}", json={"name": bad}, headers=admin)
            assert resp.status_code == 422, (what, resp.text)
        # NaN latitude: once a 503 carrying the database's error text; now refused at the edge
        body = json.dumps(report_in("李红", "13812345679", location={"lat": 1, "lon": 2}))
        resp = await client.post(
            "/v1/volunteers",
            content=body.replace('"lat": 1', '"lat": NaN'),
            headers={**admin, "content-type": "application/json"},
        )
        assert resp.status_code == 422 and names(resp, "lat", "纬度"), resp.text
        resp = await client.get("/v1/volunteers", params={"scope": COMMUNITY}, headers=admin)
        assert resp.json()["items"] == []
    # only the seeded org tree went out
    records = await read_topic(settings, settings.topics.volunteers, expect=4, timeout=10)
    assert {e.type for e in events_of(records)} == {"org.tongxin.org_unit.updated"}


async def test_far_dates_and_huge_cursors_are_422_not_500(settings: Settings) -> None:
    operator = auth(settings, "operator", "zhongshan")
    async with running(metrics_app(settings)) as client:
        for path in ("/v1/stats", "/v1/stats/daily", "/v1/stats/ranking"):
            for params in ({"to": "9999-12-31"}, {"from": "0001-01-01"}):
                resp = await client.get(
                    path, params={"scope": "zhongshan", **params}, headers=operator
                )
                assert resp.status_code == 422, (path, params, resp.text)
                assert "日期须在 2000-01-01 到 2100-12-31 之间" in error_of(resp)["message"]
    s = notify_settings(settings)
    async with notify_service(s) as (client, _, _app):
        me = auth(s, "resident", "zhongshan.hongyan.dongfeng", "r1")
        for cursor in ("9" * 4301, "9" * 40, "-1", "1e5"):
            resp = await client.get(
                "/v1/inbox", params={"recipient_id": "r1", "cursor": cursor}, headers=me
            )
            assert resp.status_code == 422 and names(resp, "cursor", "分页游标"), resp.text


async def _chunks(total: int) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * 65536
        sent += 65536


async def test_headers_and_bodies_are_bounded_and_correlation_ids_sanitised(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", "zhongshan.hongyan.dongfeng", sub="res-1")
    async with needs_service(settings) as (app, client):
        resp = await client.post(
            "/v1/needs", json=need_body(), headers={**resident, "X-Correlation-Id": "c" * 4096}
        )
        assert resp.status_code == 201
        assert resp.headers["x-correlation-id"] != "c" * 4096
        assert len(resp.headers["x-correlation-id"]) <= 128
        kept = await client.post(
            "/v1/needs", json=need_body(), headers={**resident, "X-Correlation-Id": "req-42.a:b"}
        )
        assert kept.headers["x-correlation-id"] == "req-42.a:b"
        resp = await client.get("/v1/needs", headers={**resident, "X-Padding": "p" * 100_000})
        assert resp.status_code == 431 and error_of(resp)["message"].startswith("请求头过大")
        resp = await client.post(
            "/v1/needs",
            content=_chunks(settings.max_body_bytes + 65536),
            headers={**resident, "content-type": "application/json"},
        )
        assert resp.status_code == 413, resp.text
        assert await app.state.deps.repo.store.heads.count_documents({}) == 2
    events = events_of(await read_topic(settings, settings.topics.needs, expect=2))
    ids = {e.model_dump().get("correlationid") for e in events}
    assert "c" * 4096 not in ids and "req-42.a:b" in ids, ids
