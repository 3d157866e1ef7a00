"""Inbox identity from the token (#12): inbox, subscriptions and preferences default to the
caller's `sub`; another's only for an admin in scope; the live stream opens from a browser's
EventSource with a short-lived stream ticket, never a long-lived token in the URL."""

from __future__ import annotations

import asyncio
import json

import httpx

from services.notify.app import create_app
from shared.settings import Settings
from tests.helpers import auth, handled
from tests.integration.test_notify_support import (
    NEAR,
    A,
    B,
    approved,
    notify_service,
    notify_settings,
    posted,
    publish,
    publisher,
    serve,
    volunteer,
)


async def test_inbox_subscriptions_and_preferences_default_to_the_caller(
    settings: Settings,
) -> None:
    s = notify_settings(settings)
    async with publisher(s) as kafka, notify_service(s) as (client, _, app):
        me = auth(s, "volunteer", A, "me-1")
        resp = await client.post(
            "/v1/subscriptions", json={"channel": "email", "target": "me@example.org"}, headers=me
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["recipient_id"] == "me-1"
        resp = await client.put("/v1/preferences", json={"language": "en"}, headers=me)
        assert resp.status_code == 200, resp.text
        assert (await client.get("/v1/preferences", headers=me)).json()["language"] == "en"
        assert (await client.get("/v1/preferences/me-1", headers=me)).json()["language"] == "en"

        await handled(app, *await publish(kafka, s, volunteer("me-1", A, ["助老"], NEAR)))
        await handled(app, *await publish(kafka, s, approved()))
        page = (await client.get("/v1/inbox", headers=me)).json()
        assert len(page["items"]) == 1 and page["unread"] == 1

        other = {"recipient_id": "me-1"}
        resp = await client.get("/v1/inbox", params=other, headers=auth(s, "volunteer", A, "x"))
        assert resp.status_code == 404
        resp = await client.get(
            "/v1/inbox", params=other, headers=auth(s, "community_admin", B, "adm-b")
        )
        assert resp.status_code == 404  # an admin of another community
        resp = await client.get(
            "/v1/inbox", params=other, headers=auth(s, "community_admin", A, "adm-a")
        )
        assert resp.status_code == 200 and len(resp.json()["items"]) == 1


async def test_the_inbox_stream_opens_with_a_stream_ticket_and_refuses_a_token_in_the_url(
    settings: Settings,
) -> None:
    s = notify_settings(settings)
    app = create_app(s)
    async with publisher(s) as kafka, serve(app) as url, httpx.AsyncClient(timeout=30) as http:
        await asyncio.wait_for(app.state.runtime.consumer.assigned.wait(), 30)
        me = auth(s, "resident", A, "r-t")
        resp = await http.post(f"{url}/v1/inbox/stream-ticket", headers=me)
        assert resp.status_code == 200, resp.text
        ticket = resp.json()
        assert 0 < ticket["expires_in"] <= 120

        long_lived = me["Authorization"].removeprefix("Bearer ")
        resp = await http.get(f"{url}/v1/inbox/stream", params={"ticket": long_lived})
        assert resp.status_code == 401

        # As a browser's EventSource: no headers, the ticket in the URL.
        async with http.stream(
            "GET", f"{url}/v1/inbox/stream", params={"ticket": ticket["ticket"]}
        ) as stream:
            assert stream.status_code == 200
            lines = stream.aiter_lines()
            async for line in lines:
                if line == ": connected":
                    break
            need = posted("r-t")
            await publish(kafka, s, need)

            async def data() -> str:
                async for line in lines:
                    if line.startswith("data:"):
                        return line.removeprefix("data:").strip()
                raise AssertionError("stream ended")

            item = json.loads(await asyncio.wait_for(data(), 30))
            assert item["need_id"] == need.need_id
