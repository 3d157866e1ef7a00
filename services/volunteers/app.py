"""Bootstrap of the volunteers service."""

from __future__ import annotations

from fastapi import FastAPI

from shared.runtime import Runtime, create_service_app
from shared.settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        runtime.subscribe(["needs"], {})

    return create_service_app(
        "volunteers",
        settings,
        title="Tongxin volunteers / 同心·志愿者",
        description="Org tree, volunteers reporting in, teams, organisations, love passbook.",
        routers=[],
        wire=wire,
    )
