"""Webhooks against server-side request forgery (shared.outbound): every loopback, private
and metadata spelling the audit used is refused when subscribing (422) and again when
connecting; redirects are not followed; webhooks are for admins and services only;
subscriptions are capped; an admin subscribes only volunteers of their own scope."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from shared.events.volunteers import VolunteerRegistered
from shared.outbound import OutboundRefused, guarded_client, networks
from shared.settings import Settings
from tests.helpers import auth, handled
from tests.integration.test_notify_support import (
    A,
    B,
    notify_service,
    notify_settings,
    publish,
    publisher,
    serve,
)
from tests.needs_support import now

LOOPBACK_SPELLINGS = [
    "http://127.0.0.1:8002/v1/volunteers",
    "http://127.1:8002/",
    "http://0x7f000001/",
    "http://2130706433/",
    "http://0177.0.0.1/",
    "http://127.000.000.001/",
    "http://0/",
    "http://0.0.0.0:8002/",
    "http://localhost:8002/",
    "http://LOCALHOST./",
    "http://[::1]:8002/",
    "http://[::ffff:127.0.0.1]/",
    "http://[0:0:0:0:0:ffff:7f00:1]/",
    "http://[::]/",
    "http://example.com@127.0.0.1:8002/",  # the userinfo trick
    "http://admin:pw@example.org/",  # credentials in the URL at all
    "http://169.254.169.254/latest/meta-data/",  # cloud metadata
    "http://[fd00:ec2::254]/",
    "http://10.0.0.1/",
    "http://192.168.1.1/",
    "http://172.16.0.1/",
    "http://100.64.0.1/",
    "http://[fe80::1]/",
    "http://[64:ff9b::7f00:1]/",  # NAT64 of 127.0.0.1
    "http://224.0.0.1/",
    "ftp://example.org/",
]


async def test_every_loopback_private_and_metadata_spelling_is_refused_with_422(
    settings: Settings,
) -> None:
    s = notify_settings(settings, outbound_allow_networks=[])
    admin = auth(s, "community_admin", A, "admin-a")
    async with notify_service(s) as (client, _, _app):
        for target in LOOPBACK_SPELLINGS:
            body = {"recipient_id": "svc-crm", "channel": "webhook", "target": target}
            resp = await client.post("/v1/subscriptions", json=body, headers=admin)
            assert resp.status_code == 422, (target, resp.text)
            error = resp.json()["error"]
            assert "target" in str(error), (target, resp.text)
        # a host that does not resolve: no such target (404, naming it), nothing stored
        body = {"recipient_id": "svc-crm", "channel": "webhook"}
        resp = await client.post(
            "/v1/subscriptions",
            json={**body, "target": "http://no-such-host.invalid/"},
            headers=admin,
        )
        assert resp.status_code == 404 and "target" in str(resp.json()["error"]), resp.text
        resp = await client.get("/v1/subscriptions", params={"scope": A}, headers=admin)
        assert resp.json()["items"] == []


async def test_connections_are_checked_again_and_redirects_not_followed() -> None:
    hits: list[str] = []

    async def hook(request: Request) -> Response:
        hits.append(request.url.path)
        if request.url.path == "/moved":
            return RedirectResponse("http://169.254.169.254/latest/meta-data/", status_code=302)
        return Response(status_code=200)

    app = Starlette(routes=[Route("/{path:path}", hook, methods=["POST"])])
    async with serve(app) as url:
        # not allow-listed: refused at connect time, whatever the subscription said
        async with guarded_client(networks([]), timeout=3) as client:
            with pytest.raises(OutboundRefused):
                await client.post(f"{url}/hook", content=b"{}")
        assert hits == []
        async with guarded_client(networks(["127.0.0.1/32"]), timeout=3) as client:
            assert (await client.post(f"{url}/hook", content=b"{}")).status_code == 200
            resp = await client.post(f"{url}/moved", content=b"{}")
            assert resp.status_code == 302  # answered, not followed
        assert hits == ["/hook", "/moved"]


async def test_webhooks_for_admins_only_caps_and_no_volunteer_of_another_scope(
    settings: Settings,
) -> None:
    s = notify_settings(settings, notify_max_subscriptions_per_recipient=3)
    async with publisher(s) as kafka, notify_service(s) as (client, _, app):
        events = await publish(
            kafka,
            s,
            VolunteerRegistered(
                volunteer_id="vb", name="赵*", home_community_id=B, registered_at=now()
            ),
        )
        await handled(app, *events)
        hook = {"channel": "webhook", "target": "http://127.0.0.1:9/hook"}
        for role in ("volunteer", "resident", "operator"):
            who = auth(s, role, A, f"{role}-1")
            body = {"recipient_id": f"{role}-1", **hook}
            resp = await client.post("/v1/subscriptions", json=body, headers=who)
            assert resp.status_code == 403, (role, resp.text)
        admin_a = auth(s, "community_admin", A, "admin-a")
        resp = await client.post(
            "/v1/subscriptions",
            json={"recipient_id": "vb", "channel": "inapp", "scope": A},
            headers=admin_a,
        )
        assert resp.status_code == 403 and "辖区" in resp.json()["error"]["message"], resp.text
        street = auth(s, "street_admin", "zhongshan.hongyan", "admin-street")
        resp = await client.post(
            "/v1/subscriptions",
            json={"recipient_id": "vb", "channel": "inapp", "scope": B},
            headers=street,
        )
        assert resp.status_code == 201, resp.text  # B is inside the street's scope
        me = auth(s, "volunteer", A, "v1")
        for n in range(3):
            body = {"recipient_id": "v1", "channel": "inapp", "categories": [], "event_types": []}
            body["event_types"] = [["org.tongxin.need.approved"], ["*"], []][n]
            body["categories"] = [[], [], ["medical"]][n]
            resp = await client.post("/v1/subscriptions", json=body, headers=me)
            assert resp.status_code == 201, resp.text
        body = {"recipient_id": "v1", "channel": "inapp", "categories": ["elderly_care"]}
        resp = await client.post("/v1/subscriptions", json=body, headers=me)
        assert resp.status_code == 409 and "上限" in resp.json()["error"]["message"], resp.text
