"""Bootstrap of the notify service."""

from __future__ import annotations

from fastapi import FastAPI

from services.notify import api, consumers
from services.notify.inbox import Inbox
from shared.runtime import Runtime, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        inbox = Inbox(runtime.db)
        app.state.inbox = inbox
        runtime.subscribe(consumers.STREAMS, consumers.event_handlers(inbox))

    return create_service_app(
        "notify",
        settings,
        title="Tongxin notify / 同心·消息通知",
        description="Notifications on each recipient's channel, exactly once.",
        routers=[api.router],
        wire=wire,
    )
