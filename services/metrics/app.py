"""Bootstrap of the metrics service."""

from __future__ import annotations

from fastapi import FastAPI

from services.metrics import api, consumers
from services.metrics.projection import Projection
from shared.runtime import Runtime, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        projection = Projection(runtime.db)
        app.state.projection = projection
        runtime.subscribe(consumers.STREAMS, consumers.event_handlers(projection))

    return create_service_app(
        "metrics",
        settings,
        title="Tongxin metrics / 同心·数据看板",
        description="Figures rebuilt from the event log, for every level of the org tree.",
        routers=[api.router],
        wire=wire,
    )
