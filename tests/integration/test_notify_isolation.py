"""A slow channel delays only itself (#12): a webhook that hangs until its timeout, with a
backlog of deliveries, does not hold back an email (each channel has its own slots and
backlog); real SMTP server, webhook endpoint, Kafka and FerretDB."""

from __future__ import annotations

import asyncio
import time

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.settings import Settings
from tests.helpers import auth, eventually
from tests.integration.test_notify_support import (
    A,
    claimed,
    notify_service,
    notify_settings,
    posted,
    publish,
    publisher,
    serve,
    smtp_server,
)


async def test_a_hanging_webhook_does_not_hold_back_email(settings: Settings) -> None:
    calls: list[float] = []

    async def hang(request: Request) -> Response:
        calls.append(time.monotonic())
        await asyncio.sleep(30)
        return Response(status_code=200)

    hook = Starlette(routes=[Route("/{path:path}", hang, methods=["POST"])])
    async with smtp_server() as smtp, serve(hook) as hook_url, publisher(settings) as kafka:
        s = notify_settings(
            settings,
            smtp_port=smtp.port,
            notify_dispatch_concurrency=2,
            notify_webhook_timeout_s=10.0,
            notify_max_attempts=1,
        )
        async with notify_service(s) as (client, _, _):
            admin = auth(s, "community_admin", A, "admin-a")
            body = {"recipient_id": "admin-a", "channel": "webhook", "target": hook_url + "/h"}
            resp = await client.post(
                "/v1/subscriptions",
                json={**body, "event_types": ["org.tongxin.project.claimed"], "scope": A},
                headers=admin,
            )
            assert resp.status_code == 201, resp.text
            resp = await client.post(
                "/v1/subscriptions",
                json={"recipient_id": "r-mail", "channel": "email", "target": "r@example.org"},
                headers=auth(s, "resident", A, "r-mail"),
            )
            assert resp.status_code == 201, resp.text
            await publish(kafka, s, *(claimed(A, f"v-{i}") for i in range(6)))
            await eventually(lambda: asyncio.sleep(0, result=len(calls) >= 2), timeout=30)
            started = time.monotonic()
            await publish(kafka, s, posted("r-mail"))  # while both webhook slots hang
            await eventually(lambda: asyncio.sleep(0, result=smtp.to("r@example.org")), timeout=30)
            took = time.monotonic() - started
            print(f"email after {took:.1f} s while {len(calls)} webhook calls hang")
            assert len(calls) == 2  # the webhook's backlog waits for its own slots
            assert took < 10  # sooner than the webhook timeout it would otherwise wait for
