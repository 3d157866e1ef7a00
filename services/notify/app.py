"""Bootstrap of the notify service: builds its parts and wires them to the runtime."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from services.notify import api, consumers
from services.notify.channels import (
    Channel,
    EmailChannel,
    InAppChannel,
    LogSmsProvider,
    SmsChannel,
    SmsProvider,
    WebhookChannel,
)
from services.notify.dispatcher import Dispatcher
from services.notify.handlers import NotifyDeps
from services.notify.inbox import Inbox, InboxHub
from services.notify.notifier import Notifier
from services.notify.repository import (
    AppendLog,
    Deliveries,
    Digests,
    Profiles,
    ReadModel,
    Routes,
)
from shared.clock import Clock, SystemClock
from shared.runtime import Runtime, create_service_app
from shared.settings import Settings


def create_app(
    settings: Settings | None = None,
    clock: Clock | None = None,
    sms_provider: SmsProvider | None = None,
) -> FastAPI:
    settings = settings or Settings()
    clock = clock or SystemClock()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        db = runtime.db
        hub = InboxHub()
        inbox = Inbox(db, hub)
        profiles = Profiles(db)
        deliveries = Deliveries(db, settings.topics.notify)
        webhooks = httpx.AsyncClient(timeout=settings.notify_webhook_timeout_s)
        channels: dict[str, Channel] = {
            "inapp": InAppChannel(inbox),
            "webhook": WebhookChannel(webhooks),
            "email": EmailChannel(settings),
            "sms": SmsChannel(sms_provider or LogSmsProvider()),
        }
        dispatcher = Dispatcher(
            settings, clock, deliveries, profiles, channels, runtime.producer, runtime.relay
        )
        read_model = ReadModel(db)
        notifier = Notifier(
            settings=settings,
            clock=clock,
            read_model=read_model,
            profiles=profiles,
            routes=Routes(db),
            quota=AppendLog(db, "need_message_quota"),
            digests=Digests(db),
            deliveries=deliveries,
            dispatcher=dispatcher,
        )
        deps = NotifyDeps(
            settings=settings,
            clock=clock,
            read_model=read_model,
            profiles=profiles,
            notifier=notifier,
            inbox=inbox,
            dispatcher=dispatcher,
        )
        app.state.notify = deps
        runtime.subscribe(consumers.STREAMS, consumers.event_handlers(deps))
        runtime.run_in_background(dispatcher.run)
        runtime.run_in_background(notifier.run_digests)

        async def close_on_stop() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                hub.close()
                await webhooks.aclose()

        runtime.run_in_background(close_on_stop)

    return create_service_app(
        "notify",
        settings,
        title="Tongxin notify / 同心·消息通知",
        description=(
            "Notifications on each recipient's channel, exactly once per event, recipient and "
            "channel: in-app inbox (also live as server-sent events), signed webhooks, email, "
            "SMS; subscriptions, preferences, quiet hours and daily digests."
        ),
        routers=[api.router],
        wire=wire,
    )
