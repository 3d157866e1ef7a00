"""The in-app inbox over HTTP: live stream, pages, read marks; subscriptions and who may
manage them."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx

from services.notify.app import create_app
from shared.settings import Settings
from tests.helpers import auth, handled
from tests.integration.test_notify_support import (
    A,
    B,
    inbox,
    inbox_count,
    notify_service,
    notify_settings,
    posted,
    publish,
    publisher,
    serve,
)


async def test_inbox_stream_client_receives_a_new_notification_as_it_is_created(
    settings: Settings,
) -> None:
    s = notify_settings(settings, notify_sse_heartbeat_s=0.5)
    app = create_app(s)
    async with publisher(s) as kafka, serve(app) as url, httpx.AsyncClient(timeout=30) as http:
        await asyncio.wait_for(app.state.runtime.consumer.assigned.wait(), 30)
        headers = auth(s, "resident", A, "r1")
        params = {"recipient_id": "r1"}
        async with http.stream(
            "GET", f"{url}/v1/inbox/stream", params=params, headers=headers
        ) as stream:
            assert stream.status_code == 200
            assert stream.headers["content-type"].startswith("text/event-stream")
            lines = stream.aiter_lines()

            async def next_frame() -> dict[str, str]:
                """The next event's fields; comments (heartbeats) are counted."""
                frame: dict[str, str] = {}
                async for line in lines:
                    if line.startswith(":"):
                        comments.append(line)
                    elif line == "" and "event" in frame:
                        return frame
                    elif ":" in line:
                        name, _, value = line.partition(":")
                        frame[name] = value.strip()
                raise AssertionError("stream ended")

            comments: list[str] = []
            async for line in lines:  # subscribed once the stream says so
                if line == ": connected":
                    break
            need = posted("r1")
            (event,) = await publish(kafka, s, need)
            frame = await asyncio.wait_for(next_frame(), 30)
            assert frame["event"] == "notification"
            item = json.loads(frame["data"])
            assert (item["event_id"], item["type"], item["subject"]) == (
                event.id,
                "org.tongxin.need.posted",
                need.need_id,
            )
            assert frame["id"] == item["id"] and item["read"] is False
            assert "修理楼道灯" in item["body"]
            assert comments == [] or set(comments) == {": heartbeat"}

        # Another user may not follow r1's inbox.
        resp = await http.get(
            f"{url}/v1/inbox/stream", params=params, headers=auth(s, "resident", A, "r2")
        )
        assert resp.status_code == 404


async def test_inbox_pages_newest_first_counts_unread_and_marks_read(settings: Settings) -> None:
    s = notify_settings(settings)
    async with publisher(s) as kafka, notify_service(s) as (client, _, app):
        needs = [posted("r1", title=f"需求{i}") for i in range(3)]
        events = await publish(kafka, s, *needs)
        await handled(app, *events)
        await inbox_count(client, s, "r1", 3)
        me = auth(s, "resident", A, "r1")

        resp = await client.get("/v1/inbox", params={"recipient_id": "r1", "limit": 2}, headers=me)
        first: dict[str, Any] = resp.json()
        assert first["unread"] == 3 and len(first["items"]) == 2 and first["next_cursor"]
        resp = await client.get(
            "/v1/inbox",
            params={"recipient_id": "r1", "limit": 2, "cursor": first["next_cursor"]},
            headers=me,
        )
        second: dict[str, Any] = resp.json()
        assert len(second["items"]) == 1 and second["next_cursor"] is None
        pages = [*first["items"], *second["items"]]
        created = [i["created_at"] for i in pages]
        assert created == sorted(created, reverse=True)
        assert {i["event_id"] for i in pages} == {e.id for e in events}

        newest = first["items"][0]["id"]
        for _ in range(2):  # reading twice counts once
            resp = await client.post(f"/v1/inbox/{newest}/read", headers=me)
            assert resp.status_code == 200 and resp.json()["read"] is True
        page = await inbox(client, s, "r1")
        assert page["unread"] == 2
        assert [i["read"] for i in page["items"]] == [True, False, False]

        other = auth(s, "resident", A, "r2")
        resp = await client.get("/v1/inbox", params={"recipient_id": "r1"}, headers=other)
        assert resp.status_code == 404
        assert resp.json()["error"]["code"] == "not_found"
        resp = await client.post(f"/v1/inbox/{newest}/read", headers=other)
        assert resp.status_code == 404
        resp = await client.get("/v1/inbox", params={"recipient_id": "r1"})
        assert resp.status_code == 401


async def test_users_manage_their_own_subscriptions_and_admins_those_in_their_scope(
    settings: Settings,
) -> None:
    s = notify_settings(settings)
    async with notify_service(s) as (client, _, _):
        v1 = auth(s, "volunteer", A, "v1")
        admin_a = auth(s, "community_admin", A, "admin-a")
        admin_b = auth(s, "community_admin", B, "admin-b")
        mine = {"recipient_id": "v1", "channel": "sms", "target": "13812345678"}

        resp = await client.post("/v1/subscriptions", json=mine, headers=v1)
        assert resp.status_code == 201, resp.text
        sub = resp.json()
        assert (sub["scope"], sub["audience"], sub["secret"]) == (A, "personal", None)
        resp = await client.post("/v1/subscriptions", json=mine, headers=v1)
        assert resp.status_code == 409
        elsewhere = {"recipient_id": "svc", "channel": "email", "target": "x@example.org"}
        for body, who in (
            ({**mine, "recipient_id": "v2"}, v1),  # someone else's
            ({**mine, "audience": "scope"}, v1),  # everything in the community
            ({**mine, "scope": B}, v1),  # outside the caller's scope
            ({**elsewhere, "scope": A}, admin_b),  # an admin of another community
        ):
            resp = await client.post("/v1/subscriptions", json=body, headers=who)
            assert resp.status_code == 403, (body, resp.text)
        for bad in (
            {**mine, "target": "not a phone"},
            {**mine, "event_types": ["org.tongxin.no.such"]},
            {**mine, "categories": ["astrology"]},
            {"recipient_id": "v1", "channel": "webhook", "target": "ftp://x"},
        ):
            resp = await client.post("/v1/subscriptions", json=bad, headers=v1)
            assert resp.status_code == 422, (bad, resp.text)

        # The admin of A subscribes a subscriber service to A; its secret is generated once.
        resp = await client.post(
            "/v1/subscriptions",
            json={
                "recipient_id": "svc-crm",
                "channel": "webhook",
                "target": "http://127.0.0.1:9/hooks/tongxin",  # allow-listed in the tests
                "event_types": ["*"],
            },
            headers=admin_a,
        )
        assert resp.status_code == 201, resp.text
        svc = resp.json()
        assert svc["audience"] == "scope" and len(svc["secret"]) >= 32
        resp = await client.get("/v1/subscriptions", params={"scope": A}, headers=admin_a)
        assert [(i["id"], i["secret"]) for i in resp.json()["items"]] == [(svc["id"], None)]
        resp = await client.get("/v1/subscriptions", params={"scope": A}, headers=admin_b)
        assert resp.status_code == 404
        resp = await client.get("/v1/subscriptions", params={"recipient_id": "v1"}, headers=v1)
        assert [i["id"] for i in resp.json()["items"]] == [sub["id"]]

        resp = await client.delete(f"/v1/subscriptions/{svc['id']}", headers=admin_b)
        assert resp.status_code == 404
        resp = await client.delete(f"/v1/subscriptions/{sub['id']}", headers=admin_a)
        assert resp.status_code == 204  # an admin of the scope may remove it
        resp = await client.delete(f"/v1/subscriptions/{svc['id']}", headers=admin_a)
        assert resp.status_code == 204
        resp = await client.get("/v1/subscriptions", params={"scope": A}, headers=admin_a)
        assert resp.json()["items"] == []
        resp = await client.get("/v1/subscriptions", params={"recipient_id": "v1"}, headers=v1)
        assert resp.json()["items"] == []


async def test_preferences_are_the_recipients_own(settings: Settings) -> None:
    s = notify_settings(settings)
    async with notify_service(s) as (client, _, _):
        me = auth(s, "volunteer", A, "v1")
        resp = await client.get("/v1/preferences/v1", headers=me)
        assert resp.status_code == 200
        assert resp.json()["language"] == "zh" and resp.json()["digest"] is False
        prefs = {
            "channels": ["inapp", "email"],
            "categories": ["elderly_care"],
            "quiet_hours": {"start": "22:00", "end": "07:00"},
            "digest": True,
            "language": "en",
        }
        resp = await client.put("/v1/preferences/v1", json=prefs, headers=me)
        assert resp.status_code == 200, resp.text
        resp = await client.get("/v1/preferences/v1", headers=me)
        assert resp.json()["quiet_hours"] == {"start": "22:00:00", "end": "07:00:00"}
        assert resp.json()["language"] == "en"
        other = auth(s, "volunteer", A, "v2")
        assert (await client.get("/v1/preferences/v1", headers=other)).status_code == 404
        resp = await client.put("/v1/preferences/v1", json=prefs, headers=other)
        assert resp.status_code == 404
        resp = await client.put(
            "/v1/preferences/v1", json={**prefs, "timezone": "Mars/Olympus"}, headers=me
        )
        assert resp.status_code == 422
