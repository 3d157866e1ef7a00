"""Bootstrap of the metrics service."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from services.metrics import api
from services.metrics.handlers import events
from services.metrics.handlers.projection import Projection
from services.metrics.settings import MetricsSettings
from shared.runtime import Runtime, create_service_app

DESCRIPTION = """\
Projections of every event (needs, volunteers, notify streams) into figures for every level
of the org tree (district → street → community → grid) and every day, the stats API and
the operators' dashboard at `/dashboard`. Figures are rebuilt exactly from the event log by
`tongxin metrics rebuild`. Definitions: see `GET /v1/stats`.
"""


def create_app(settings: MetricsSettings | None = None) -> FastAPI:
    settings = settings or MetricsSettings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        projection = Projection(runtime.db, settings, events.STREAMS)
        # Facts record the event ids merged into them: the shared ledger's writes per event
        # would only repeat that. A batch's facts are stored together, before its commit.
        runtime.serve(
            app,
            projection,
            events.STREAMS,
            events.EVENT_HANDLERS.bind(projection),
            flush=projection.flush,
            background=[projection.run],
            ready={
                "projection": lambda: (
                    None if projection.ready.is_set() else "统计数据加载中 / facts still loading"
                )
            },
        )

    app = create_service_app(
        "metrics",
        settings,
        title="Tongxin metrics / 同心·数据看板",
        description=DESCRIPTION,
        routers=[api.router, api.pages],
        wire=wire,
    )
    app.mount("/dashboard/assets", StaticFiles(directory=api.STATIC), name="dashboard-assets")
    return app
