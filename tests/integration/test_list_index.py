"""Lists come from each replica's in-memory list index (shared.listed_heads): a replica lists
what was stored before it started, and what another replica writes once its event arrives."""

from __future__ import annotations

from typing import Any

import httpx

from services.needs.app import create_app as needs_app
from services.volunteers.app import create_app as volunteers_app
from shared.settings import Settings
from tests.helpers import auth, eventually, running
from tests.integration.test_volunteers_registry import COMMUNITY, report_in, seed_tree
from tests.needs_support import need_body, needs_service


async def listed(client: httpx.AsyncClient, path: str, headers: Any, **params: Any) -> set[str]:
    resp = await client.get(path, params={"limit": 200, **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    return {item["id"] for item in resp.json()["items"]}


async def test_a_needs_replica_lists_what_was_stored_before_it_and_what_another_writes(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")

    async def post(client: httpx.AsyncClient) -> str:
        resp = await client.post("/v1/needs", json=need_body(), headers=resident)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    async with needs_service(settings) as (_, a):
        before = await post(a)
        async with running(needs_app(settings)) as b:
            assert await listed(b, "/v1/needs", admin) == {before}
            later = await post(a)
            await eventually(lambda: _has(b, "/v1/needs", admin, later), timeout=30)
            assert later not in await listed(b, "/v1/needs", admin, status="open")
            resp = await a.post(f"/v1/needs/{later}/approve", headers=admin)
            assert resp.status_code == 200, resp.text
            await eventually(lambda: _has(b, "/v1/needs", admin, later, status="open"), 30)
            # the requester's neighbours list it on B once open, as on A
            neighbour = auth(settings, "resident", COMMUNITY, sub="res-2")
            assert await listed(b, "/v1/needs", neighbour) == {later}


async def test_a_volunteers_replica_finds_by_name_who_another_registered(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    async with running(volunteers_app(settings)) as a:
        await seed_tree(a, settings)
        resp = await a.post("/v1/volunteers", json=report_in("李红", "13800000001"), headers=admin)
        first = resp.json()["id"]
        async with running(volunteers_app(settings)) as b:
            assert await listed(b, "/v1/volunteers", admin, q="红") == {first}
            resp = await a.post(
                "/v1/volunteers", json=report_in("张红梅", "13800000002"), headers=admin
            )
            second = resp.json()["id"]
            await eventually(lambda: _has(b, "/v1/volunteers", admin, second, q="红"), 30)
            resp = await a.post(f"/v1/volunteers/{first}/deactivate", headers=admin)
            assert resp.status_code == 200, resp.text

            # B shows `first` as it was until the event arrives, then no longer
            async def gone() -> bool:
                return await listed(b, "/v1/volunteers", admin, q="红") == {second}

            await eventually(gone, timeout=30)
            assert await listed(b, "/v1/volunteers", admin, q="红", include_inactive=True) == {
                first,
                second,
            }


async def _has(
    client: httpx.AsyncClient, path: str, headers: Any, item: str, **params: Any
) -> bool:
    return item in await listed(client, path, headers, **params)
