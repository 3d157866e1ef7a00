"""The HTTP baseline: a bare FastAPI endpoint that validates the body `POST /v1/needs` takes
and inserts one document. No auth, no idempotency, no outbox, no middleware.

    python -m bench.baseline_app --port 8101     (settings from TONGXIN_* like a service)
"""

# No `from __future__ import annotations`: FastAPI must see the body model itself, not a name.
import argparse
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, get_type_hints

from fastapi import FastAPI
from fastapi.routing import APIRoute
from pydantic import BaseModel
from pymongo import AsyncMongoClient

from shared.settings import Settings


def need_body_model() -> type[BaseModel]:
    """The body model of the needs service's `POST /v1/needs`, whatever its name is now."""
    from services.needs import api

    for route in api.router.routes:
        is_post = isinstance(route, APIRoute) and "POST" in (route.methods or ())
        if is_post and isinstance(route, APIRoute) and route.path == "/v1/needs":
            for name, hint in get_type_hints(route.endpoint).items():
                if name != "return" and isinstance(hint, type) and issubclass(hint, BaseModel):
                    return hint
    raise LookupError("services.needs.api has no POST /v1/needs with a body model")


def create_app() -> FastAPI:
    body_model = need_body_model()
    settings = Settings()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, retryWrites=False
    )
    needs = client[settings.database_name("baseline")]["needs"]

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await client.close()

    app = FastAPI(lifespan=lifespan)

    @app.post("/v1/needs", status_code=201)
    async def post_need(body: body_model) -> dict[str, Any]:  # type: ignore[valid-type]
        fields: dict[str, Any] = body.model_dump(mode="json")  # type: ignore[attr-defined]
        doc = {"_id": str(uuid.uuid4()), **fields}
        await needs.insert_one(doc)
        return {"id": doc.pop("_id"), **doc}

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    parser = argparse.ArgumentParser(prog="bench.baseline_app")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args(argv)
    # Served exactly as `tongxin serve` serves a service.
    uvicorn.run(
        "bench.baseline_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
