"""Bootstrap of the needs service: settings, wiring, lifespan."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI

from services.needs import api
from services.needs.adapters.claim_slots import ClaimSlots
from services.needs.adapters.photos import PhotoStore
from services.needs.adapters.read_model import Directory
from services.needs.adapters.repository import INDEXES, NeedsRepository
from services.needs.domain import need
from services.needs.handlers import commands, events
from services.needs.handlers.commands import NeedsDeps
from services.needs.settings import NeedsSettings
from shared.clock import Clock, SystemClock
from shared.mongo.store import AggregateStore
from shared.runtime import Runtime, create_service_app


def create_app(settings: NeedsSettings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """`clock` lets tests move time forward (claim expiry); it defaults to the system's."""
    settings = settings or NeedsSettings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        time = clock or SystemClock()
        deps = NeedsDeps(
            repo=NeedsRepository(
                AggregateStore(runtime.db, "needs"), settings, lambda: need.ms(time.now())
            ),
            directory=Directory(runtime.db),
            settings=settings,
            slots=ClaimSlots(runtime.db),
            photos=PhotoStore(runtime.db),
            clock=time,
        )
        runtime.serve(
            app,
            deps,
            events.STREAMS,
            events.EVENT_HANDLERS.bind(deps),
            background=[partial(commands.run_claim_expiry, deps), deps.repo.lists.run],
            ready={"need_list": deps.repo.lists.not_loaded},
            indexes=INDEXES,
        )

    app = create_service_app(
        "needs",
        settings,
        title="Tongxin needs / 同心·群众需求",
        description=(
            "Residents' needs, review into the project library, claims (volunteers, teams, "
            "organisations), completion and confirmation. Events on `tongxin.needs.v1`."
        ),
        routers=[api.router],
        wire=wire,
    )
    return app
