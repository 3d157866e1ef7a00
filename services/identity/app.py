"""Bootstrap of the identity service: settings, wiring, lifespan."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from services.identity import api
from services.identity.adapters.repository import IdentityRepository
from services.identity.adapters.sms import SmsLogFile
from services.identity.handlers import events
from services.identity.handlers.commands import IdentityDeps
from services.identity.settings import IdentitySettings
from shared.runtime import Runtime, create_service_app
from shared.signing import signing_keys


def create_app(settings: IdentitySettings | None = None) -> FastAPI:
    settings = settings or IdentitySettings()

    async def wire(app: FastAPI, runtime: Runtime) -> None:
        signing_keys(settings)  # no key, no start (dev: the first one is made under var/)
        deps = IdentityDeps(
            repo=IdentityRepository(runtime.db, settings),
            settings=settings,
            sms=SmsLogFile(Path(settings.var_dir) / "log" / "sms.jsonl"),
        )
        runtime.serve(app, deps, events.STREAMS, events.EVENT_HANDLERS.bind(deps))

    return create_service_app(
        "identity",
        settings,
        title="Tongxin identity / 同心·统一身份",
        description=(
            "Sign-in with phone and text-message code (手机号 + 验证码), sessions with "
            "rotating refresh tokens, roles from data (resident of the chosen community, "
            "volunteer where the phone reported in, appointed offices: grid worker, "
            "community/street/district admin, operator), OAuth2 client credentials for "
            "services, and the keys every service verifies tokens with "
            "(`/.well-known/jwks.json`, EdDSA)."
        ),
        routers=api.routers,
        wire=wire,
    )
