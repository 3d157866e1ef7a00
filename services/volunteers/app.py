"""Bootstrap of the volunteers service: settings, wiring, lifespan."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from services.volunteers import api, consumers, handlers
from services.volunteers.handlers import VolunteersDeps
from services.volunteers.repository import VolunteersRepository
from shared.clock import SystemClock
from shared.mongo.store import AggregateStore
from shared.runtime import Runtime, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        clock = SystemClock()
        deps = VolunteersDeps(
            repo=VolunteersRepository(partial(AggregateStore, runtime.db), settings, clock.now),
            import_max_rows=settings.volunteers_import_max_rows,
            clock=clock,
            phone_link_key=settings.link_key,
        )
        app.state.deps = deps
        runtime.subscribe(consumers.STREAMS, handlers.EVENT_HANDLERS.bind(deps))

    app = create_service_app(
        "volunteers",
        settings,
        title="Tongxin volunteers / 同心·志愿者",
        description=(
            "Org tree (区 → 街道 → 社区 → 网格), volunteers reporting in (报到) one by one or "
            "from a spreadsheet, organisations, volunteer service teams (志愿服务队), and the "
            "love passbook (爱心存折): 10 points per service hour, credited once per "
            "completion from `org.tongxin.task.completed` — also for a volunteer this "
            "service does not know (the passbook exists by id, in the completion's "
            "community) — redeemable at the love supermarket, with star levels by "
            "cumulative hours."
        ),
        routers=api.routers,
        wire=wire,
    )
    return app
