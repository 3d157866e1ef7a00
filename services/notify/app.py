"""Bootstrap of the notify service: builds its parts and wires them to the runtime."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from pymongo.errors import PyMongoError

from services.notify import api
from services.notify.adapters.channels import (
    Channel,
    EmailChannel,
    InAppChannel,
    LogSmsProvider,
    SmsChannel,
    SmsProvider,
    WebhookChannel,
)
from services.notify.adapters.contacts import ContactConfirmations
from services.notify.adapters.deliveries import Deliveries
from services.notify.adapters.digests import Bursts, Digests
from services.notify.adapters.inbox import Inbox, InboxHub
from services.notify.adapters.profiles import Profiles
from services.notify.adapters.read_model import ReadModel
from services.notify.adapters.routes import Routes
from services.notify.handlers import events
from services.notify.handlers.commands import NotifyDeps
from services.notify.handlers.dispatcher import Dispatcher
from services.notify.handlers.district_router import DistrictRouter
from services.notify.handlers.notifier import Notifier
from services.notify.settings import NotifySettings
from shared.clock import Clock, SystemClock
from shared.logging import get_logger
from shared.mongo.lease import Lease, replica_id
from shared.outbound import guarded_client, networks
from shared.runtime import Runtime, create_service_app

log = get_logger(__name__)


def create_app(
    settings: NotifySettings | None = None,
    clock: Clock | None = None,
    sms_provider: SmsProvider | None = None,
) -> FastAPI:
    settings = settings or NotifySettings()
    clock = clock or SystemClock()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        db = runtime.db
        hub = InboxHub()
        inbox = Inbox(db, hub)
        profiles = Profiles(db)
        deliveries = Deliveries(db, settings.topics.notify)
        webhooks = guarded_client(
            networks(settings.outbound_allow_networks), settings.notify_webhook_timeout_s
        )
        channels: dict[str, Channel] = {
            "inapp": InAppChannel(inbox),
            "webhook": WebhookChannel(webhooks),
            "email": EmailChannel(settings),
            "sms": SmsChannel(sms_provider or LogSmsProvider()),
        }
        dispatcher = Dispatcher(settings, clock, deliveries, profiles, channels, runtime.producer)
        read_model = ReadModel(db)
        routes = Routes(db)
        bursts = Bursts(db)
        notifier = Notifier(
            settings=settings,
            clock=clock,
            read_model=read_model,
            profiles=profiles,
            routes=routes,
            digests=Digests(db),
            deliveries=deliveries,
            inbox=inbox,
            dispatcher=dispatcher,
            bursts=bursts,
        )
        deps = NotifyDeps.of(notifier, ContactConfirmations(db, channels))

        async def load_mirrors() -> None:
            """The volunteers, caps and last alerts held in memory; handlers wait for them."""
            failures = 0
            while True:
                try:
                    await asyncio.gather(read_model.load(), routes.load(clock.now()), bursts.load())
                    deps.loaded.set()
                    return
                except PyMongoError as exc:
                    failures += 1
                    log.warning("notify_load_failed", error=repr(exc), failures=failures)
                    await asyncio.sleep(min(5.0, 0.2 * 2**failures))

        async def flush() -> None:
            await events.end_of_batch(deps)

        # No ledger: every write dedups by id (deliveries, routes, inbox items, volunteers).
        runtime.serve(
            app,
            deps,
            events.STREAMS,
            events.EVENT_HANDLERS.bind(deps, ready=deps.loaded),
            flush=flush,
            background=[load_mirrors, dispatcher.run, notifier.run_digests],
            ready={
                "notify_state": lambda: (
                    None if deps.loaded.is_set() else "加载中 / loading volunteers and caps"
                )
            },
        )
        if settings.district_streams:
            lease = Lease(db, "district-router", replica_id(), settings.relay_lease_s)
            runtime.run_in_background(DistrictRouter(settings, lease).run)

        async def close_on_stop() -> None:
            try:
                await asyncio.Event().wait()
            finally:
                dispatcher.stop_sending()  # before its clients close under it
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
