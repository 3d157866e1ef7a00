"""HTTP → commands and queries of the notify service; nothing else.

Long because it holds the routes of inbox, stream, subscriptions, preferences and contacts;
each is a few lines.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse

from services.notify.adapters.contacts import ContactConfirmations
from services.notify.adapters.inbox import item_seq
from services.notify.adapters.tickets import TICKET_TTL, mint_ticket, principal_of_ticket
from services.notify.domain import policy
from services.notify.domain.audience import Preferences
from services.notify.handlers import commands, queries
from services.notify.handlers.commands import NewSubscription, NotifyDeps
from services.notify.metrics import SSE_CLIENTS
from services.notify.schemas import (
    ConfirmationCode,
    InboxItem,
    InboxPage,
    PendingConfirmation,
    StreamTicket,
    SubscriptionCreate,
    SubscriptionList,
    SubscriptionPublic,
)
from shared.auth import CurrentPrincipal, Principal, current_principal
from shared.categories import known_categories
from shared.events.registry import EVENT_TYPES
from shared.http import ApiError, app_deps
from shared.inputs import SeqCursor
from shared.outbound import OutboundRefused, UnknownHost, check_target, networks
from shared.ratelimit import StreamSlots
from shared.visibility import FieldView

router = APIRouter(prefix="/v1", tags=["notify"])


Deps = Annotated[NotifyDeps, Depends(app_deps)]


async def _check_webhook(deps: NotifyDeps, principal: Principal, body: SubscriptionCreate) -> None:
    """Webhooks are for admins and service accounts, to public http(s) targets only
    (shared.outbound: no loopback, private or metadata addresses in any spelling)."""
    if body.channel != "webhook":
        return
    if not (principal.is_admin or principal.is_service):
        raise ApiError(403, "仅管理员和服务账号可设置回调 / webhooks are for admins and services")
    if deps.settings.profile == "prod" and not (body.target or "").startswith("https://"):
        raise ApiError(422, "生产环境仅支持 https 回调 / webhooks must use https in production")
    try:
        await check_target(body.target or "", networks(deps.settings.outbound_allow_networks))
    except OutboundRefused as exc:
        raise ApiError(
            404 if isinstance(exc, UnknownHost) else 422,
            f"通知目标不可用：{exc}",
            details=[{"field": "target", "label": "通知目标", "message": str(exc)}],
        ) from None


def _check_vocabulary(deps: NotifyDeps, event_types: list[str], categories: list[str]) -> None:
    unknown_types = [t for t in event_types if t != "*" and t not in EVENT_TYPES]
    unknown_cats = sorted(set(categories) - known_categories(deps.settings.extra_categories))
    if unknown_types or unknown_cats:
        raise ApiError(
            422,
            "未知的事件类型或类别 / unknown event types or categories",
            details={"event_types": unknown_types, "categories": unknown_cats},
        )


def _contacts(deps: Deps) -> ContactConfirmations:
    return deps.contacts


# The answer to subscribing one's own contact goes to that person only (FIELD_MATRIX).
PENDING_VIEW = FieldView("pending_confirmation", "self")

Contacts = Annotated[ContactConfirmations, Depends(_contacts)]


@router.post(
    "/subscriptions",
    status_code=201,
    response_model=SubscriptionPublic,
    responses={202: {"model": PendingConfirmation, "description": "a code was sent"}},
)
async def create_subscription(
    body: SubscriptionCreate, principal: CurrentPrincipal, deps: Deps, contacts: Contacts
) -> SubscriptionPublic | JSONResponse:
    """Subscribes a recipient to events on a channel. A webhook's signing secret, when not
    given, is generated and returned in this answer only. A resident or volunteer
    subscribing their own email or phone first confirms it: the answer is 202 and a
    six-digit code goes to the contact, for `POST /v1/subscriptions/confirmation`."""
    _check_vocabulary(deps, body.event_types, body.categories)
    await _check_webhook(deps, principal, body)
    needs_code = (
        body.channel in ("email", "sms")
        and not (principal.is_admin or principal.is_service)
        and deps.settings.notify_confirm_contacts
    )
    target = body.target or ""
    if needs_code and not await contacts.is_verified(principal.sub, body.channel, target):
        # the same checks as the subscription itself, before anything is sent
        scope = body.scope or principal.scope
        policy.subscription_audience(
            principal, body.recipient_id or principal.sub, scope, body.audience
        )
        pending_id, expires = await contacts.start(
            principal.sub,
            body.channel,
            target,
            body.model_dump(mode="json"),
            scope,
            deps.clock.now(),
        )
        pending = PendingConfirmation(
            pending_id=pending_id,
            channel=body.channel,
            target=PENDING_VIEW.contact("target", body.channel, target),
            expires_at=expires,
            message="验证码已发送，请在 15 分钟内确认 / a code was sent: confirm it in 15 minutes",
        )
        return JSONResponse(pending.model_dump(mode="json"), status_code=202)
    return await _subscribe(deps, principal, body)


@router.post("/subscriptions/confirmation", status_code=201, response_model=SubscriptionPublic)
async def confirm_subscription(
    body: ConfirmationCode, principal: CurrentPrincipal, deps: Deps, contacts: Contacts
) -> SubscriptionPublic:
    """Confirms one's own email or phone with the code sent to it; the subscription asked
    for is then made."""
    request = await contacts.confirm(body.pending_id, principal.sub, body.code, deps.clock.now())
    return await _subscribe(deps, principal, SubscriptionCreate.model_validate(request))


async def _subscribe(
    deps: NotifyDeps, principal: Principal, body: SubscriptionCreate
) -> SubscriptionPublic:
    recipient_id = body.recipient_id or principal.sub  # default: the caller
    new = NewSubscription(
        recipient_id=recipient_id,
        channel=body.channel,
        target=recipient_id if body.channel == "inapp" else (body.target or ""),
        event_types=[] if "*" in body.event_types else body.event_types,
        scope=body.scope or principal.scope,
        categories=body.categories,
        audience=body.audience,
        secret=body.secret,
    )
    sub, secret = await commands.subscribe(deps, principal, new)
    return SubscriptionPublic.of(principal, sub, secret)


@router.get("/subscriptions", response_model=SubscriptionList)
async def list_subscriptions(
    principal: CurrentPrincipal,
    deps: Deps,
    recipient_id: str | None = Query(default=None, min_length=1),
    scope: str | None = Query(default=None, min_length=1),
) -> SubscriptionList:
    """A recipient's subscriptions (default: the caller's), or an admin's view of a scope's."""
    found = await queries.subscriptions(deps, principal, recipient_id, scope)
    return SubscriptionList(items=[SubscriptionPublic.of(principal, s) for s in found])


@router.delete("/subscriptions/{subscription_id}", status_code=204)
async def delete_subscription(
    subscription_id: str, principal: CurrentPrincipal, deps: Deps
) -> Response:
    """Removes a subscription: its recipient's own, or any in the caller's admin scope."""
    await commands.unsubscribe(deps, principal, subscription_id)
    return Response(status_code=204)


@router.get("/preferences", response_model=Preferences)
async def get_my_preferences(principal: CurrentPrincipal, deps: Deps) -> Preferences:
    """The caller's preferences (the token's `sub`)."""
    return await commands.preferences(deps, principal, principal.sub)


@router.put("/preferences", response_model=Preferences)
async def put_my_preferences(
    body: Preferences, principal: CurrentPrincipal, deps: Deps
) -> Preferences:
    """Replaces the caller's preferences (the token's `sub`)."""
    _check_vocabulary(deps, [], body.categories)
    return await commands.set_preferences(deps, principal, principal.sub, body)


@router.get("/preferences/{recipient_id}", response_model=Preferences)
async def get_preferences(
    recipient_id: str, principal: CurrentPrincipal, deps: Deps
) -> Preferences:
    """The caller's own preferences (defaults until set)."""
    return await commands.preferences(deps, principal, recipient_id)


@router.put("/preferences/{recipient_id}", response_model=Preferences)
async def put_preferences(
    recipient_id: str, body: Preferences, principal: CurrentPrincipal, deps: Deps
) -> Preferences:
    """Replaces the caller's preferences: channels, categories, quiet hours (email and SMS
    are held until they end), daily digest, language, time zone."""
    _check_vocabulary(deps, [], body.categories)
    return await commands.set_preferences(deps, principal, recipient_id, body)


@router.get("/inbox", response_model=InboxPage)
async def inbox(
    principal: CurrentPrincipal,
    deps: Deps,
    recipient_id: str | None = Query(default=None, min_length=1),
    cursor: Annotated[SeqCursor | None, Query()] = None,
    limit: int = Query(default=50, ge=1, le=200),
) -> dict[str, Any]:
    """The caller's inbox (the token's `sub`), newest first, with the unread count;
    `next_cursor` pages on. `recipient_id`: an admin reading a volunteer's of their scope."""
    rid = recipient_id or principal.sub
    return await queries.inbox_page(deps, principal, rid, cursor, limit)


@router.post("/inbox/stream-ticket", response_model=StreamTicket)
async def stream_ticket(principal: CurrentPrincipal, deps: Deps) -> StreamTicket:
    """A ticket for `GET /v1/inbox/stream?ticket=…` (a browser's EventSource sends no
    headers): opens only the caller's stream, for a minute."""
    return StreamTicket(
        ticket=mint_ticket(deps.settings, principal), expires_in=int(TICKET_TTL.total_seconds())
    )


async def stream_principal(request: Request, ticket: str | None = None) -> Principal:
    """The caller of the stream: a stream ticket in the URL, or the Authorization header."""
    if ticket is not None:
        return principal_of_ticket(request.app.state.settings, ticket)
    return await current_principal(request)


@router.post("/inbox/{item_id}/read", response_model=InboxItem)
async def read_item(item_id: str, principal: CurrentPrincipal, deps: Deps) -> dict[str, Any]:
    """Marks one of the caller's inbox items read (again: no change)."""
    return await commands.mark_read(deps, principal, item_id)


def _sse(item: dict[str, Any]) -> str:
    data = json.dumps(InboxItem.model_validate(item).model_dump(mode="json"), ensure_ascii=False)
    return f"id: {item['id']}\nevent: notification\ndata: {data}\n\n"


@router.get(
    "/inbox/stream",
    openapi_extra={"security": [{"bearer": []}, {"stream_ticket": []}]},
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def inbox_stream(
    request: Request,
    principal: Annotated[Principal, Depends(stream_principal)],
    deps: Deps,
    recipient_id: str | None = Query(default=None, min_length=1),
    last_event_id: str | None = Header(default=None),
) -> StreamingResponse:
    """The caller's inbox, live, as server-sent events: `event: notification` per new item
    (its id is the item id, so a reconnecting client's Last-Event-ID resumes), `: heartbeat`
    comments. From a browser: `new EventSource("/v1/inbox/stream?ticket=…")` with a ticket
    of `POST /v1/inbox/stream-ticket`."""
    recipient_id = recipient_id or principal.sub
    resume_after = queries.stream_start(principal, recipient_id, last_event_id)
    slots: StreamSlots = request.app.state.stream_slots
    slots.take(principal.sub)  # 429 past settings.sse_streams_per_user
    hub = deps.inbox.hub
    queue = hub.subscribe(recipient_id)  # before answering: nothing created from now is missed
    heartbeat = deps.settings.notify_sse_heartbeat_s

    async def events() -> AsyncIterator[str]:
        SSE_CLIENTS.inc()
        try:
            yield "retry: 3000\n: connected\n\n"
            sent_upto = 0
            if resume_after is not None:
                for missed in await deps.inbox.since(recipient_id, resume_after):
                    sent_upto = item_seq(missed["id"]) or sent_upto
                    yield _sse(missed)
            while True:
                try:
                    async with asyncio.timeout(heartbeat):  # not wait_for: see shared.aio.nap
                        item = await queue.get()
                except TimeoutError:
                    if await request.is_disconnected():
                        return
                    yield ": heartbeat\n\n"
                    continue
                if item is None:
                    return  # shutting down
                if (item_seq(item["id"]) or 0) > sent_upto:  # not already replayed
                    yield _sse(item)
        finally:
            hub.unsubscribe(recipient_id, queue)
            slots.give_back(principal.sub)
            SSE_CLIENTS.dec()

    return StreamingResponse(
        events(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
