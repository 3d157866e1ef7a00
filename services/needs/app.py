"""Bootstrap of the needs service: settings, wiring, lifespan."""

from __future__ import annotations

from fastapi import FastAPI

from services.needs import api, consumers
from services.needs.handlers import NeedsDeps
from services.needs.repository import NeedsRepository
from shared.runtime import Runtime, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        deps = NeedsDeps(repo=NeedsRepository(runtime.db, settings), relay=runtime.relay)
        app.state.deps = deps
        runtime.subscribe(consumers.STREAMS, consumers.event_handlers(deps))

    return create_service_app(
        "needs",
        settings,
        title="Tongxin needs / 同心·群众需求",
        description="Residents' needs, review into the project library, claims and completion.",
        routers=[api.router],
        wire=wire,
    )
