"""GET /v1/needs: newest first, filters in the query, cursor pages that neither repeat nor
skip while needs keep arriving, and only the needs the caller may see."""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import httpx

from shared.settings import Settings
from tests.helpers import auth
from tests.needs_support import (
    COMMUNITY,
    OTHER_COMMUNITY,
    OTHER_STREET_COMMUNITY,
    need_body,
    needs_service,
    volunteer,
)


async def post(client: httpx.AsyncClient, headers: dict[str, str], **fields: Any) -> str:
    resp = await client.post("/v1/needs", json=need_body(**fields), headers=headers)
    assert resp.status_code == 201, resp.text
    return str(resp.json()["id"])


async def all_pages(
    client: httpx.AsyncClient, headers: dict[str, str], **params: Any
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/needs", params=query, headers=headers)).json()
        items.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


async def test_pages_neither_repeat_nor_skip_while_needs_are_being_added(
    settings: Settings,
) -> None:
    admin = auth(settings, "district_admin", "zhongshan")
    async with needs_service(settings) as (_, client):
        existing = await asyncio.gather(*(post(client, admin, title=f"需求{i}") for i in range(23)))
        seen: list[str] = []
        added: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 5, **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/v1/needs", params=params, headers=admin)).json()
            assert len(page["items"]) <= 5
            seen.extend(n["id"] for n in page["items"])
            # new needs arrive between pages
            added.extend(await asyncio.gather(*(post(client, admin) for _ in range(2))))
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)), "a need appeared twice"
        assert set(seen) == set(existing), "a need was skipped"

        everything = await all_pages(client, admin, limit=7)
        ids = [n["id"] for n in everything]
        assert set(ids) == set(existing) | set(added) and len(ids) == len(set(ids))
        # as times: a created_at on a whole second is written without its fraction
        order = [(datetime.fromisoformat(n["created_at"]), n["id"]) for n in everything]
        assert order == sorted(order, reverse=True), "newest first"


async def test_filters_combine_scope_status_category_and_kind(settings: Settings) -> None:
    admin = auth(settings, "district_admin", "zhongshan")
    async with needs_service(settings) as (_, client):
        a = await post(client, admin, category="elderly_care", kind="wish")
        b = await post(client, admin, category="legal_aid", kind="project")
        c = await post(client, admin, community_id=OTHER_COMMUNITY, category="legal_aid")
        d = await post(
            client, admin, community_id=OTHER_STREET_COMMUNITY, category="legal_aid", kind="project"
        )
        await client.post(f"/v1/needs/{b}/approve", headers=admin)
        await client.post(f"/v1/needs/{d}/approve", headers=admin)

        async def ids(**params: Any) -> set[str]:
            return {n["id"] for n in await all_pages(client, admin, **params)}

        assert await ids() == {a, b, c, d}
        assert await ids(scope="zhongshan.hongyan") == {a, b, c}
        assert await ids(scope=COMMUNITY) == {a, b}
        assert await ids(status="open") == {b, d}
        assert await ids(category="legal_aid") == {b, c, d}
        assert await ids(kind="project") == {b, d}
        assert await ids(scope="zhongshan.hongyan", category="legal_aid", status="open") == {b}
        assert await ids(scope="futian") == set()


async def test_each_caller_lists_only_the_needs_they_may_see(settings: Settings) -> None:
    admin = auth(settings, "district_admin", "zhongshan")
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    neighbour = auth(settings, "resident", COMMUNITY, sub="res-2")
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    community_admin = auth(settings, "community_admin", OTHER_COMMUNITY)
    async with needs_service(settings, volunteer("v1")) as (_, client):
        mine_pending = await post(client, resident)
        mine_open = await post(client, resident)
        neighbours_pending = await post(client, neighbour)
        elsewhere_open = await post(client, admin, community_id=OTHER_COMMUNITY)
        for need_id in (mine_open, elsewhere_open):
            await client.post(f"/v1/needs/{need_id}/approve", headers=admin)

        async def ids(headers: dict[str, str]) -> set[str]:
            return {n["id"] for n in await all_pages(client, headers)}

        assert await ids(resident) == {mine_pending, mine_open}
        assert await ids(neighbour) == {neighbours_pending, mine_open}
        assert await ids(vol) == {mine_open}
        assert await ids(community_admin) == {elsewhere_open}
        assert await ids(admin) == {mine_pending, mine_open, neighbours_pending, elsewhere_open}
        for need_id in (mine_pending, neighbours_pending, elsewhere_open):
            resp = await client.get(f"/v1/needs/{need_id}", headers=vol)
            assert resp.status_code == 404
