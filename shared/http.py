"""The error shape of docs/contract.md, health endpoints, the ASGI middleware of every service.

Long because it is the whole HTTP edge every service shares: the error shape and its mapping,
health and readiness, and the request middleware.
"""

from __future__ import annotations

import hmac
import time
import uuid
from collections.abc import Awaitable, Callable
from types import UnionType
from typing import Annotated, Any, Union, get_args, get_origin

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pymongo.errors import ConnectionFailure, ServerSelectionTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import DomainError, ErrorKind
from shared.inputs import safe_correlation_id
from shared.logging import get_logger, log_context
from shared.messages import describe, field_label
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
    431: "headers_too_large",
    500: "internal_error",
    503: "unavailable",
}


# Chinese for the errors the framework raises itself (unknown path, wrong method, bad body).
HTTP_MESSAGES = {
    400: "请求格式有误",
    401: "未登录或登录已失效",
    403: "无权限",
    404: "未找到",
    405: "不支持该请求方法",
    406: "无法提供所要求的格式",
    413: "请求体过大",
    415: "不支持的内容类型",
    429: "请求过于频繁，请稍后再试",
}

# The one mapping of a domain rule's refusal to HTTP.
KIND_STATUS: dict[ErrorKind, int] = {
    "invalid": 422,
    "not_found": 404,
    "forbidden": 403,
    "conflict": 409,
    "busy": 503,
    "unauthenticated": 401,
    "throttled": 429,
}


class ApiError(Exception):
    """An error answered as {"error": {"code", "message", "details"}} with its status."""

    def __init__(
        self,
        status: int,
        message: str,
        code: str | None = None,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or STATUS_CODES.get(status, "error")
        self.message = message
        self.details = details
        self.headers = headers  # e.g. Retry-After of a 429


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    """Every error: `{"error": {"code", "message", "details"}}` (contract.md)."""

    error: ErrorDetail


# Answers any operation may give (the middleware, the framework, the rate limits), added to
# every operation's documented responses by `document_common_errors`.
COMMON_ERRORS = {
    400: "malformed request (e.g. a body that is not JSON) / 请求格式有误",
    413: "body too large / 请求体过大",
    422: "bad input: which field and why / 输入无效",
    429: "too many requests: see Retry-After / 请求过于频繁",
    431: "request headers too large / 请求头过大",
    503: "a dependency is unavailable: retry / 暂不可用",
}
# ... and those of an operation that needs a token: the token, then the role and scope the
# caller has and the ids and scopes it names are checked (every such operation does all three).
SIGNED_IN_ERRORS = {
    401: "no or bad token / 未认证",
    403: "the caller's role or scope may not do this / 无权限",
    404: "an id or scope named that does not exist / 未找到",
}
# ... and those of a write: the current state (claimed, closed, a duplicate) refuses it.
WRITE_ERRORS = {409: "the current state does not allow this / 与当前状态冲突"}
WRITE_METHODS = frozenset({"post", "put", "patch", "delete"})

# The `openapi_extra` of an operation anyone may call (no token): health, the sign-in steps,
# public keys, the pages. Every other operation needs the bearer token (shared.docs).
PUBLIC: dict[str, Any] = {"security": []}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` of an operation that answers these errors besides the common ones (a
    PUBLIC operation's 401, say)."""
    described = {**COMMON_ERRORS, **SIGNED_IN_ERRORS, **WRITE_ERRORS}
    return {s: {"model": ErrorBody, "description": described[s]} for s in statuses}


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}


def _documented_errors(
    spec: dict[str, Any], method: str, operation: dict[str, Any]
) -> dict[int, str]:
    statuses = dict(COMMON_ERRORS)
    if operation.get("security", spec.get("security", [])):
        statuses.update(SIGNED_IN_ERRORS)
        if method in WRITE_METHODS:
            statuses.update(WRITE_ERRORS)
    return statuses


def document_common_errors(app: FastAPI) -> None:
    """The OpenAPI document lists COMMON_ERRORS for every operation, SIGNED_IN_ERRORS for
    those that need a token (all but PUBLIC ones) and WRITE_ERRORS for their writes, besides
    what each declares."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        spec = generate()
        for operations in spec.get("paths", {}).values():
            for method, operation in operations.items():
                responses = operation.setdefault("responses", {})
                for status, description in _documented_errors(spec, method, operation).items():
                    responses.setdefault(
                        str(status),
                        {
                            "description": description,
                            "content": {"application/json": {"schema": ERROR_SCHEMA}},
                        },
                    )
        app.openapi_schema = spec
        return spec

    app.openapi = openapi  # type: ignore[method-assign]


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on this request's path (for `Allow`)."""
    probe = {**request.scope, "method": ""}
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(probe)[0] != Match.NONE:
            methods |= route_methods
    return sorted(methods)


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details}},
        status_code=status,
        headers=headers,
    )


def _unwrap(annotation: Any) -> Any:
    """The model or scalar inside Optional[...] and list[...]."""
    while True:
        args = [a for a in get_args(annotation) if a is not type(None)]
        if get_origin(annotation) in (Union, UnionType, list) and args:
            annotation = args[0]
        elif get_origin(annotation) is Annotated:
            annotation = args[0]
        else:
            return annotation


def _declared_bounds(request: Request, loc: tuple[Any, ...]) -> dict[str, Any]:
    """The ge/gt/le/lt declared on the field a validation error is about (for `须在 1 到 5
    之间`), found through the route's parameters and the body's models."""
    dependant = getattr(request.scope.get("route"), "dependant", None)
    if dependant is None or len(loc) < 2:
        return {}
    params = {
        "body": dependant.body_params,
        "query": dependant.query_params,
        "path": dependant.path_params,
        "header": dependant.header_params,
    }.get(str(loc[0]), [])
    path = list(loc[1:])
    info: FieldInfo | None = None
    annotation: Any = None
    for param in params:
        if param.alias == path[0] or param.name == path[0]:
            info, annotation, path = param.field_info, param.field_info.annotation, path[1:]
            break
    else:
        if len(params) == 1:  # a single body model: loc names its fields directly
            info, annotation = params[0].field_info, params[0].field_info.annotation
    for part in path:
        model = _unwrap(annotation)
        if isinstance(part, int):
            continue
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return {}
        field = model.model_fields.get(str(part))
        if field is None:
            return {}
        info, annotation = field, field.annotation
    if info is None:
        return {}
    return {
        key: getattr(m, key)
        for m in info.metadata
        for key in ("ge", "gt", "le", "lt")
        if getattr(m, key, None) is not None
    }


def _field_errors(request: Request, exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        names = [str(p) for p in loc[1:] if not isinstance(p, int)] if len(loc) > 1 else []
        field = names[-1] if names else ""
        out.append(
            {
                "field": ".".join(str(p) for p in loc[1:]),
                "label": field_label(field) if field else "请求体",
                "message": describe(err, field, _declared_bounds(request, loc)),
                "reason": err.get("msg", ""),
                "type": err.get("type"),
            }
        )
    return out


def install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    async def domain_error(_: Request, exc: Exception) -> JSONResponse:
        """A refused rule answers like every other error: which field (if any), and why."""
        assert isinstance(exc, DomainError)
        status = KIND_STATUS[exc.kind]
        field = exc.details.get("field")
        message = f"{field}: {exc.message}" if field and not exc.names_field else exc.message
        retry_after = exc.details.get("retry_after_s")
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return error_response(status, STATUS_CODES[status], message, exc.details or None, headers)

    async def validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        fields = _field_errors(request, exc)
        chinese = "；".join(dict.fromkeys(f["message"] for f in fields))
        english = "; ".join(f"{f['field'] or 'body'}: {f['reason']}" for f in fields)
        return error_response(422, "validation_failed", f"{chinese} / {english}", fields)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        chinese = HTTP_MESSAGES.get(status, "请求无法处理")
        response = error_response(
            status, STATUS_CODES.get(status, "error"), f"{chinese} / {exc.detail}"
        )
        response.headers.update(exc.headers or {})
        if status == 405:  # every route of this path, not only the first that matched
            response.headers["allow"] = ", ".join(allowed_methods(request))
        return response

    async def dependency_down(_: Request, exc: Exception) -> JSONResponse:
        # The exception's text (hosts, timeouts) goes to the log, never to the client.
        log.warning("dependency_unavailable", error=repr(exc))
        return error_response(
            503, "unavailable", "依赖服务暂不可用，请稍后重试 / a dependency is unavailable"
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


async def app_deps(request: Request) -> Any:
    """The service's dependencies as its app.py wired them (`app.state.deps`); each api.py
    types them: `Deps = Annotated[NeedsDeps, Depends(app_deps)]`."""
    return request.app.state.deps


def scrape_allowed(authorization: str | None, token: str | None, required: bool) -> bool:
    """/metrics carries per-district business series: with a scrape token set (and always
    in the prod profile) only a scraper presenting it as a bearer token reads them."""
    if token is None:
        return not required
    scheme, _, presented = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(presented.encode(), token.encode())


def health_router(
    readiness: ReadinessCheck,
    scrape_token: str | None = None,
    token_required: bool = False,
    liveness: ReadinessCheck | None = None,
) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", openapi_extra=PUBLIC)
    async def healthz() -> JSONResponse:
        """Alive unless stuck for good (a consumer stalled past its restart limit)."""
        problems = await liveness() if liveness is not None else {}
        if problems:
            return JSONResponse({"status": "stuck", "reasons": problems}, status_code=503)
        return JSONResponse({"status": "ok"})

    @router.get("/readyz", openapi_extra=PUBLIC)
    async def readyz() -> JSONResponse:
        problems = await readiness()
        if problems:
            return JSONResponse({"status": "unavailable", "reasons": problems}, status_code=503)
        return JSONResponse({"status": "ready"})

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        if not scrape_allowed(request.headers.get("authorization"), scrape_token, token_required):
            return error_response(
                401, "unauthorized", "需要抓取令牌 / /metrics needs the scrape token"
            )
        return PlainTextResponse(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


class RequestContextMiddleware:
    """Pure ASGI: correlation id in and out, header and body size limits, request metrics
    and logs. A client's correlation id is kept only if it is a short id of safe characters;
    the body is read whole (at most max_body_bytes, however it is sent) before the app runs."""

    def __init__(
        self, app: ASGIApp, service: str, max_body_bytes: int, max_header_bytes: int = 16_384
    ) -> None:
        self.app = app
        self.service = service
        self.max_body = max_body_bytes
        self.max_headers = max_header_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        raw_headers = scope.get("headers") or []
        headers = dict(raw_headers)
        correlation_id = safe_correlation_id(headers.get(b"x-correlation-id", b"")) or str(
            uuid.uuid4()
        )
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        if sum(len(k) + len(v) + 4 for k, v in raw_headers) > self.max_headers:
            await error_response(
                431,
                "headers_too_large",
                f"请求头过大 / request headers over {self.max_headers} bytes",
            )(scope, receive, send)
            return
        body = await self._read_body(headers, receive)
        if body is None:
            await error_response(
                413, "payload_too_large", f"请求体过大 / body over {self.max_body} bytes"
            )(scope, receive, send)
            return
        status = 500
        replayed = False

        async def replay_receive() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

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
                await self.app(scope, replay_receive, send_with_id)
            finally:
                route = scope.get("route")
                template = getattr(route, "path", "unmatched")
                elapsed = time.perf_counter() - started
                method = scope.get("method", "")
                HTTP_REQUESTS.labels(self.service, method, template, str(status)).inc()
                HTTP_DURATION.labels(self.service, method, template).observe(elapsed)
                if status >= 500:
                    log.error("http_request", method=method, route=template, status=status)

    async def _read_body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes | None:
        """The whole body, or None if it is over the limit (declared or as it arrives)."""
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_body):
            return None
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)
