"""What the notify scenarios share (no tests here): a real SMTP server, a real webhook
receiver that checks signatures, the notify app served by uvicorn, and event builders.

Long because the real SMTP server, webhook receiver and served app are shared by all the notify
scenarios.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import hmac
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import uvicorn
from aiosmtpd.controller import Controller
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from services.notify.adapters.channels import SmsProvider
from services.notify.app import create_app
from services.notify.handlers.commands import NotifyDeps
from shared.clock import Clock
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import Location, NeedApproved, NeedPosted, ProjectClaimed
from shared.events.volunteers import VolunteerRegistered
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.settings import Settings
from shared.visibility import coarse_location
from tests.helpers import auth, eventually, free_port, running

A = "zhongshan.hongyan.dongfeng"
B = "zhongshan.hongyan.xiyuan"


def _coarse(place: Location) -> Location:
    rounded = coarse_location(place)
    assert rounded is not None
    return rounded


# Places as the public streams carry them, rounded to 0.01° (shared.visibility): notify
# measures between cells, its radius widened by the rounding (notify_location_precision_km).
HOME = _coarse(Location(lat=29.5630, lon=106.5516))  # the need's address in A: 29.56
NEAR = _coarse(Location(lat=29.5660, lon=106.5516))  # 0.33 km away; 29.57: 1.1 km as carried
FAR = _coarse(Location(lat=29.6000, lon=106.5516))  # 4.1 km away; 29.60: 4.4 km as carried


def notify_settings(settings: Settings, **overrides: Any) -> Settings:
    """Fast dispatch and retries for tests."""
    values: dict[str, Any] = {
        "notify_dispatch_poll_s": 0.1,
        "notify_retry_base_s": 0.05,
        "notify_retry_max_s": 0.2,
        "notify_max_attempts": 4,
        "notify_webhook_timeout_s": 3.0,
        "smtp_timeout_s": 3.0,
        # the tests' webhook receivers listen on 127.0.0.1, which webhooks may not reach
        # unless allow-listed (shared.outbound)
        "outbound_allow_networks": ["127.0.0.1/32"],
        # own contacts are confirmed by code (test_contact_confirmation.py); not here
        "notify_confirm_contacts": False,
    }
    values.update(overrides)
    return settings.model_copy(update=values)


# --- a real SMTP server --------------------------------------------------------------------


@dataclass
class Mail:
    to: list[str]
    subject: str
    body: str


@dataclass
class SmtpSink:
    port: int
    mails: list[Mail] = field(default_factory=list)

    def to(self, address: str) -> list[Mail]:
        return [m for m in self.mails if address in m.to]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        body = msg.get_body(preferencelist=("plain",))
        self.mails.append(
            Mail(list(envelope.rcpt_tos), str(msg["Subject"]), body.get_content() if body else "")
        )
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[SmtpSink]:
    sink = SmtpSink(free_port())
    controller = Controller(sink, hostname="127.0.0.1", port=sink.port)
    controller.start()
    try:
        yield sink
    finally:
        controller.stop()


# --- a real webhook receiver ---------------------------------------------------------------


@dataclass
class Hook:
    body: bytes
    headers: dict[str, str]
    signed: bool
    status: int


@dataclass
class WebhookReceiver:
    """Answers 503 to the first `fail_first` requests (all of them with `always_fail`)."""

    url: str
    fail_first: int = 0
    always_fail: bool = False
    secrets: dict[str, str] = field(default_factory=dict)  # path → secret
    hooks: list[Hook] = field(default_factory=list)

    def ok(self, path: str = "/hook") -> list[Hook]:
        return [h for h in self.hooks if h.status == 200 and h.headers.get("x-path") == path]

    def at(self, path: str) -> str:
        return self.url + path

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        path = request.url.path
        secret = self.secrets.get(path, "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        signed = hmac.compare_digest(expected, request.headers.get("x-tongxin-signature", ""))
        failing = self.always_fail or len(self.hooks) < self.fail_first
        status = 503 if failing else (200 if signed else 401)
        self.hooks.append(Hook(body, {**request.headers, "x-path": path}, signed, status))
        return Response(status_code=status)


@asynccontextmanager
async def serve(app: Any, port: int | None = None) -> AsyncIterator[str]:
    """An ASGI app on a real local port (uvicorn in this event loop); yields its base URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, timeout_graceful_shutdown=2
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, result=server.started or task.done()), timeout=30)
    if task.done():
        await task
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def webhook_receiver(**options: Any) -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver("", **options)
    app = Starlette(routes=[Route("/{path:path}", receiver.receive, methods=["POST"])])
    async with serve(app) as url:
        receiver.url = url
        yield receiver


# --- the notify service --------------------------------------------------------------------


@asynccontextmanager
async def notify_service(
    settings: Settings, clock: Clock | None = None, sms: SmsProvider | None = None
) -> AsyncIterator[tuple[httpx.AsyncClient, NotifyDeps, FastAPI]]:
    app = create_app(settings, clock=clock, sms_provider=sms)
    async with running(app) as client:
        yield client, app.state.deps, app


async def settled(deps: NotifyDeps) -> None:
    """Waits until nothing is being sent and nothing is due."""
    await eventually(deps.dispatcher.idle, timeout=30)


async def inbox(
    client: httpx.AsyncClient, settings: Settings, recipient: str, scope: str = A
) -> dict[str, Any]:
    resp = await client.get(
        "/v1/inbox",
        params={"recipient_id": recipient},
        headers=auth(settings, "volunteer", scope, recipient),
    )
    assert resp.status_code == 200, resp.text
    page: dict[str, Any] = resp.json()
    return page


async def inbox_count(
    client: httpx.AsyncClient, settings: Settings, recipient: str, n: int, scope: str = A
) -> list[dict[str, Any]]:
    """Waits until the recipient's inbox holds `n` items; returns them."""

    async def filled() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = (await inbox(client, settings, recipient, scope))["items"]
        return items if len(items) >= n else []

    return await eventually(filled, timeout=30)


@asynccontextmanager
async def publisher(settings: Settings) -> AsyncIterator[EventProducer]:
    await ensure_topics(settings)
    producer = EventProducer(settings)
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def publish(
    producer: EventProducer, settings: Settings, *payloads: EventPayload
) -> list[CloudEvent]:
    events = [CloudEvent.wrap(p) for p in payloads]
    for event, payload in zip(events, payloads, strict=True):
        await producer.publish(settings.topics.for_stream(payload.stream), [event])
    return events


# --- events of the other services ----------------------------------------------------------


def volunteer(
    vid: str, community: str, skills: list[str], location: Location | None = None
) -> VolunteerRegistered:
    return VolunteerRegistered(
        volunteer_id=vid,
        name=vid,
        home_community_id=community,
        skills=skills,
        location=location,
        registered_at=datetime.now(UTC),
    )


def approved(
    community: str = A,
    category: str = "elderly_care",
    title: str = "给独居老人送年货",
    location: Location | None = HOME,
    skills: list[str] | None = None,
    requester: str = "resident-wang",
) -> NeedApproved:
    now = datetime.now(UTC)
    return NeedApproved(
        need_id=str(uuid.uuid4()),
        community_id=community,
        category=category,
        kind="wish",
        title=title,
        slots=2,
        skills=skills or [],
        location=location,
        requester_id=requester,
        approved_by="admin-1",
        posted_at=now,
        approved_at=now,
    )


def posted(requester: str, community: str = A, title: str = "修理楼道灯") -> NeedPosted:
    now = datetime.now(UTC)
    return NeedPosted(
        need_id=str(uuid.uuid4()),
        community_id=community,
        category="domestic_help",
        kind="wish",
        title=title,
        slots=1,
        beneficiaries=1,
        requester_id=requester,
        posted_by=requester,
        status="pending_review",
        posted_at=now,
    )


def claimed(community: str = A, volunteer_id: str = "v-claimer") -> ProjectClaimed:
    now = datetime.now(UTC)
    return ProjectClaimed(
        need_id=str(uuid.uuid4()),
        community_id=community,
        category="elderly_care",
        kind="wish",
        claim_id=str(uuid.uuid4()),
        claimant_type="volunteer",
        volunteer_ids=[volunteer_id],
        slots=1,
        slots_total=2,
        slots_taken=1,
        need_status="open",
        requester_id="resident-wang",
        claimed_by=volunteer_id,
        posted_at=now,
        claimed_at=now,
    )
