"""Bootstrap of the needs service: settings, wiring, lifespan."""

from __future__ import annotations

from functools import partial

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.needs import api, consumers, handlers
from services.needs.directory import Directory
from services.needs.domain import DomainError
from services.needs.handlers import Clock, NeedsDeps, system_clock
from services.needs.repository import NeedsRepository
from shared.http import STATUS_CODES, error_response
from shared.runtime import Runtime, create_service_app
from shared.settings import Settings


async def domain_error(_: Request, exc: Exception) -> JSONResponse:
    """A refused rule answers like every other error: which field (if any), and why."""
    assert isinstance(exc, DomainError)
    field = exc.details.get("field")
    message = f"{field}: {exc.message}" if field else exc.message
    return error_response(
        exc.status, STATUS_CODES.get(exc.status, "error"), message, exc.details or None
    )


def create_app(settings: Settings | None = None, *, clock: Clock = system_clock) -> FastAPI:
    """`clock` lets tests move time forward (claim expiry); it defaults to the system's."""
    settings = settings or Settings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        deps = NeedsDeps(
            repo=NeedsRepository(runtime.db, settings),
            directory=Directory(runtime.db),
            relay=runtime.relay,
            settings=settings,
            clock=clock,
        )
        app.state.deps = deps
        runtime.subscribe(consumers.STREAMS, consumers.event_handlers(deps))
        runtime.run_in_background(partial(handlers.run_claim_expiry, deps))

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
    app.add_exception_handler(DomainError, domain_error)
    return app
