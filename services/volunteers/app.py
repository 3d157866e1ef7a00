"""Bootstrap of the volunteers service: settings, wiring, lifespan."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from services.volunteers import api
from services.volunteers.adapters.repository import INDEXES, VolunteersRepository
from services.volunteers.handlers import commands, events
from services.volunteers.handlers.commands import VolunteersDeps
from services.volunteers.settings import VolunteersSettings
from shared.clock import Clock, SystemClock
from shared.mongo.store import AggregateStore
from shared.runtime import Runtime, create_service_app


def create_app(
    settings: VolunteersSettings | None = None, *, clock: Clock | None = None
) -> FastAPI:
    """`clock` lets tests move time forward (reservations lapsing)."""
    settings = settings or VolunteersSettings()
    clock = clock or SystemClock()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        deps = VolunteersDeps(
            repo=VolunteersRepository(partial(AggregateStore, runtime.db), settings, clock.now),
            import_max_rows=settings.volunteers_import_max_rows,
            clock=clock,
            phone_link_key=settings.link_key,
        )
        runtime.serve(
            app,
            deps,
            events.STREAMS,
            events.EVENT_HANDLERS.bind(deps),
            background=[
                partial(commands.run_reservation_lapses, deps),
                deps.repo.volunteer_lists.run,
            ],
            ready={"volunteer_list": deps.repo.volunteer_lists.not_loaded},
            indexes=INDEXES,
        )

    app = create_service_app(
        "volunteers",
        settings,
        title="Tongxin volunteers / 同心·志愿者",
        description=(
            "Org tree (区 → 街道 → 社区 → 网格), volunteers reporting in (报到) one by one or "
            "from a spreadsheet, organisations, volunteer service teams (志愿服务队), and the "
            "love passbook (爱心存折): points per verified service hour (10 by default, "
            "the district's rule), credited once per verified revision from "
            "`org.tongxin.hours.verified` — also for a volunteer this service does not "
            "know — with star levels by cumulative hours (the district's thresholds); "
            "the love supermarket (爱心超市); local rules by district; certificates of "
            "voluntary service (志愿服务记录证明)."
        ),
        routers=api.routers,
        wire=wire,
    )
    return app
