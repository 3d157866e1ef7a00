"""The error shape of docs/contract.md, health endpoints, the ASGI middleware of every service."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import DomainError, ErrorKind
from shared.logging import get_logger, log_context
from shared.metrics import HTTP_DURATION, HTTP_REQUESTS

log = get_logger(__name__)

STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    422: "validation_failed",
    429: "throttled",
    500: "internal_error",
    503: "unavailable",
}


# The one mapping of a domain rule's refusal to HTTP.
KIND_STATUS: dict[ErrorKind, int] = {
    "invalid": 422,
    "not_found": 404,
    "forbidden": 403,
    "conflict": 409,
    "busy": 503,
}


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "details"}} with its status."""

    def __init__(
        self, status: int, message: str, code: str | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        self.details = details


def not_found(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what} {ident} not found / 未找到", details={"id": ident})


def conflict(message: str, **details: Any) -> ApiError:
    return ApiError(409, message, details=details or None)


def error_response(status: int, code: str, message: str, details: Any = None) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}}, status_code=status
    )


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        out.append({"field": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.details)

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        """A refused rule answers like every other error: which field (if any), and why."""
        assert isinstance(exc, DomainError)
        status = KIND_STATUS[exc.kind]
        field = exc.details.get("field")
        message = f"{field}: {exc.message}" if field else exc.message
        return error_response(status, STATUS_CODES[status], message, exc.details or None)

    async def validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        fields = _field_errors(exc)
        names = ", ".join(f["field"] or "body" for f in fields)
        return error_response(
            422, "validation_failed", f"invalid input / 输入无效: {names}", fields
        )

    async def http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return error_response(
            exc.status_code, STATUS_CODES.get(exc.status_code, "error"), str(exc.detail)
        )

    async def dependency_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("dependency_unavailable", error=repr(exc))
        return error_response(
            503, "unavailable", "a dependency is unavailable / 依赖服务不可用", repr(exc)[:300]
        )

    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled_error", error=repr(exc))
        return error_response(500, "internal_error", "internal error / 内部错误")

    app.add_exception_handler(Exception, unexpected)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(DomainError, domain_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(StarletteHTTPException, http_error)
    for exc_type in (ConnectionFailure, ServerSelectionTimeoutError, KafkaError, TimeoutError):
        app.add_exception_handler(exc_type, dependency_down)


ReadinessCheck = Callable[[], Awaitable[dict[str, str]]]


async def correlation_id(request: Request) -> str | None:
    """The request's correlation id, as RequestContextMiddleware took or made it."""
    value: str | None = getattr(request.state, "correlation_id", None)
    return value


CorrelationId = Annotated[str | None, Depends(correlation_id)]


def health_router(readiness: ReadinessCheck) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz")
    async def readyz() -> JSONResponse:
        problems = await readiness()
        if problems:
            return JSONResponse({"status": "unavailable", "reasons": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestContextMiddleware:
    """Pure ASGI: correlation id in and out, body size limit, request metrics and logs."""

    def __init__(self, app: ASGIApp, service: str, max_body_bytes: int) -> None:
        self.app = app
        self.service = service
        self.max_body = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        correlation_id = headers.get(b"x-correlation-id", b"").decode() or str(uuid.uuid4())
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await error_response(
                413, "payload_too_large", f"body over {self.max_body} bytes / 请求体过大"
            )(scope, receive, send)
            return
        status = 500
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body:
                    raise ApiError(413, f"body over {self.max_body} bytes / 请求体过大")
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", []).append(
                    (b"x-correlation-id", correlation_id.encode())
                )
            await send(message)

        started = time.perf_counter()
        with log_context(correlation_id=correlation_id):
            try:
                await self.app(scope, limited_receive, send_with_id)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                elapsed = time.perf_counter() - started
                method = scope.get("method", "")
                HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
                HTTP_DURATION.labels(self.service, method, template).observe(elapsed)
                if status >= 500:
                    log.error("http_request", method=method, route=template, status=status)
