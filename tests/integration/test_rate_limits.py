"""Rate limits (shared.ratelimit): a burst from one principal gets 429 with Retry-After
while another principal is served; bad tokens are limited by address; a user holds a
bounded number of live event streams."""

from __future__ import annotations

import asyncio
from contextlib import AsyncExitStack

import httpx

from services.notify.app import create_app as notify_app
from shared.settings import Settings
from tests.helpers import auth
from tests.integration.test_notify_support import A, notify_settings, serve
from tests.needs_support import COMMUNITY, need_body, needs_service


async def test_a_burst_from_one_principal_is_throttled_while_another_is_served(
    settings: Settings,
) -> None:
    s = settings.model_copy(
        update={
            "rate_limit_reads": "20/second",
            "rate_limit_writes": "5/second",
            "rate_limit_per_address": "100000/minute",
        }
    )
    noisy = auth(s, "resident", COMMUNITY, sub="res-noisy")
    quiet = auth(s, "resident", COMMUNITY, sub="res-quiet")
    async with needs_service(s) as (app, client):
        burst = await asyncio.gather(
            *(client.get("/v1/needs", params={"limit": 1}, headers=noisy) for _ in range(100))
        )
        statuses = [r.status_code for r in burst]
        assert set(statuses) == {200, 429}, statuses
        assert statuses.count(429) >= 50, statuses  # 100 in about a second, 20 allowed
        throttled = next(r for r in burst if r.status_code == 429)
        assert int(throttled.headers["retry-after"]) >= 1
        assert throttled.json()["error"]["message"].startswith("请求过于频繁")
        assert (await client.get("/v1/needs", headers=quiet)).status_code == 200

        writes = await asyncio.gather(
            *(client.post("/v1/needs", json=need_body(), headers=noisy) for _ in range(20))
        )
        codes = [r.status_code for r in writes]
        assert codes.count(429) >= 10 and codes.count(201) <= 10, codes
        created = codes.count(201)
        resp = await client.post("/v1/needs", json=need_body(), headers=quiet)
        assert resp.status_code == 201, resp.text
        # a throttled write changed nothing
        assert await app.state.deps.repo.store.heads.count_documents({}) == created + 1


async def test_bad_tokens_are_limited_by_client_address(settings: Settings) -> None:
    s = settings.model_copy(update={"rate_limit_per_address": "30/minute"})
    async with needs_service(s) as (_, client):
        bad = {"Authorization": "Bearer not-a-token"}
        statuses = [(await client.get("/v1/needs", headers=bad)).status_code for _ in range(40)]
        assert statuses[:30] == [401] * 30 and statuses[30:] == [429] * 10, statuses
        assert (await client.get("/healthz")).status_code == 200  # health is not limited


async def test_a_user_holds_at_most_the_configured_number_of_live_streams(
    settings: Settings,
) -> None:
    s = notify_settings(settings, sse_streams_per_user=2, notify_sse_heartbeat_s=0.5)
    app = notify_app(s)
    headers = auth(s, "resident", A, "r1")
    params = {"recipient_id": "r1"}
    async with serve(app) as url, httpx.AsyncClient(timeout=30) as http:
        async with AsyncExitStack() as streams:
            for _ in range(2):
                stream = await streams.enter_async_context(
                    http.stream("GET", f"{url}/v1/inbox/stream", params=params, headers=headers)
                )
                assert stream.status_code == 200
            third = await http.get(f"{url}/v1/inbox/stream", params=params, headers=headers)
            assert third.status_code == 429 and "retry-after" in third.headers
        # closed streams give their slots back (noticed at the next heartbeat)

        async def opens() -> int:
            async with http.stream(
                "GET", f"{url}/v1/inbox/stream", params=params, headers=headers
            ) as stream:
                return stream.status_code

        for _ in range(40):
            if await opens() == 200:
                break
            await asyncio.sleep(0.25)
        else:
            raise AssertionError("the slots of closed streams were not given back")
