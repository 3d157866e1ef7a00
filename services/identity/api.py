"""HTTP → commands for the identity service; nothing else."""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from services.identity.handlers import commands, queries
from services.identity.handlers.commands import IdentityDeps
from services.identity.schemas import (
    Appointment,
    AppointmentCreate,
    AppointmentPage,
    CodeRequest,
    CodeSent,
    Community,
    CommunityPage,
    LogoutRequest,
    Me,
    RefreshRequest,
    TokenRequest,
    TokenResponse,
)
from shared.auth import CurrentPrincipal, bearer, token_verifier
from shared.http import PUBLIC, ApiError, CorrelationId, app_deps, documented
from shared.orgpath import OrgPath
from shared.signing import ALGORITHM, jwks
from shared.visibility import FieldView

Deps = Annotated[IdentityDeps, Depends(app_deps)]

auth = APIRouter(prefix="/v1/auth", tags=["sign-in / 登录"])
people = APIRouter(prefix="/v1", tags=["me and communities / 我的身份与社区"])
appointments = APIRouter(prefix="/v1/appointments", tags=["appointments / 任命"])
wellknown = APIRouter(prefix="/.well-known", tags=["OpenID Connect discovery"])


def _form_schema() -> dict[str, Any]:
    schema = TokenRequest.model_json_schema()
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": schema},
                "application/x-www-form-urlencoded": {"schema": schema},
            },
        }
    }


async def _token_request(request: Request) -> TokenRequest:
    content_type = request.headers.get("content-type", "")
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            # a form has no null: an empty field is one not given
            raw: Any = {k: v for k, v in (await request.form()).items() if v != ""}
        else:
            raw = await request.json()
        body = TokenRequest.model_validate(raw)
    except ValidationError as exc:
        errors = [{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]
        raise RequestValidationError(errors) from None
    except ValueError:
        raise ApiError(400, "请求体须为 JSON / the body must be JSON") from None
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("basic ") and body.client_id is None:
        try:
            cid, _, secret = base64.b64decode(basic[6:]).decode().partition(":")
        except ValueError:
            raise ApiError(401, "客户端认证失败 / invalid client credentials") from None
        body = body.model_copy(update={"client_id": cid, "client_secret": secret})
    return body


def _missing(*names: str) -> ApiError:
    message = f"缺少字段 / missing fields: {', '.join(names)}"
    return ApiError(422, message, details={"fields": list(names)})


# --- sign-in ----------------------------------------------------------------------------


@auth.post(
    "/otp",
    status_code=202,
    response_model=CodeSent,
    openapi_extra=PUBLIC,
    description=(
        "Sends a 6-digit sign-in code (验证码) by text message, valid 5 minutes. The answer "
        "is the same whether or not the phone is known. One code per phone per 60 s, and "
        "daily caps per phone and per address: 429 with `Retry-After` (seconds). A new code "
        "replaces the previous one. In development the message is a line of "
        "`var/log/sms.jsonl`."
    ),
)
async def request_code(body: CodeRequest, request: Request, deps: Deps) -> CodeSent:
    address = request.client.host if request.client else "unknown"
    return CodeSent(**await commands.request_code(deps, body.phone, address))


@auth.post(
    "/token",
    response_model=TokenResponse,
    openapi_extra={**_form_schema(), **PUBLIC},
    responses=documented(401, 403, 404, 409),
    description=(
        "Sign-in: `{phone, code[, role, scope]}` (5 wrong tries lock the code). Role "
        "switch: `{refresh_token, role[, scope]}` (rotates the refresh token). Service "
        "clients: `{grant_type: client_credentials, client_id, client_secret}` (or HTTP "
        "Basic). Roles come from data: `resident` of the community chosen (`role: "
        "resident, scope: <community id>` chooses or changes it), `volunteer` where the "
        "phone reported in, the offices one is appointed to. Without `role` the role held "
        "last (or the highest) is active. A resident who has not chosen a community yet "
        "gets 422 (the code stays usable). Access tokens last at most 15 minutes."
    ),
)
async def token(request: Request, deps: Deps) -> dict[str, Any]:
    body = await _token_request(request)
    grant = body.grant_type or (
        "client_credentials"
        if body.client_id
        else "refresh_token"
        if body.refresh_token
        else "sms_code"
    )
    if grant == "client_credentials":
        if not body.client_id or not body.client_secret:
            raise _missing("client_id", "client_secret")
        return await commands.client_credentials(deps, body.client_id, body.client_secret)
    if grant == "refresh_token":
        if not body.refresh_token:
            raise _missing("refresh_token")
        return await commands.refresh(deps, body.refresh_token, body.role, body.scope)
    if not body.phone or not body.code:
        raise _missing("phone", "code")
    return await commands.sign_in(deps, body.phone, body.code, body.role, body.scope)


@auth.post(
    "/refresh",
    response_model=TokenResponse,
    openapi_extra=PUBLIC,
    responses=documented(401, 403, 404, 409),
    description=(
        "The next token pair of the session (the refresh token rotates). A refresh token "
        "used a second time revokes the whole session: every later refresh is 401. The "
        "roles are decided again: an ended appointment is gone from the next pair."
    ),
)
async def refresh(body: RefreshRequest, deps: Deps) -> dict[str, Any]:
    return await commands.refresh(deps, body.refresh_token, body.role, body.scope)


@auth.post(
    "/logout",
    status_code=204,
    openapi_extra=PUBLIC,
    responses=documented(401),
    description="Ends the session of the bearer token (or of `refresh_token` in the body).",
)
async def logout(request: Request, deps: Deps, body: LogoutRequest | None = None) -> Response:
    sid = None
    if request.headers.get("authorization"):
        sid = (await token_verifier(request).principal(bearer(request))).sid
    refresh_token = body.refresh_token if body else None
    if sid is None and not refresh_token:
        raise ApiError(401, "缺少令牌 / missing bearer token or refresh_token")
    await commands.log_out(deps, sid, refresh_token)
    return Response(status_code=204)


@people.get(
    "/me",
    response_model=Me,
    description="The signed-in person (phone masked), the roles they hold, the active one.",
)
async def me(principal: CurrentPrincipal, deps: Deps) -> dict[str, Any]:
    return await queries.me(deps, principal)


@people.get(
    "/communities",
    response_model=CommunityPage,
    openapi_extra=PUBLIC,
    description=(
        "Communities (and grids) whose Chinese name contains `q` (`?q=和平`), from the org "
        "tree on the volunteers stream; public, for choosing one's community at sign-in."
    ),
)
async def communities(
    deps: Deps,
    q: Annotated[str, Query(max_length=40)] = "",
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> CommunityPage:
    items = await queries.search_communities(deps, q, limit)
    return CommunityPage(items=[Community(**i) for i in items])


# --- appointments ----------------------------------------------------------------------


# Appointments are served to admins (and services) whose scope covers them only
# (policy.may_read_appointments, require_appointer): their row of the field matrix.
APPOINTMENT_VIEW = FieldView("appointment", "admin_in_scope")


def _appointment(a: Any) -> Appointment:
    return Appointment(**a.public(APPOINTMENT_VIEW))


@appointments.post(
    "",
    status_code=201,
    response_model=Appointment,
    responses={200: {"model": Appointment, "description": "already appointed"}},
    description=(
        "Appoints a person, by phone, to an office in a scope: by an admin of a higher rank "
        "whose scope covers it (district > street > community > grid worker; operators by "
        "a street or district admin), or by a `service` token (a district's first admin). "
        "Emits `org.tongxin.appointment.made`. The person holds the role from their next "
        "sign-in or refresh."
    ),
)
async def appoint(
    body: AppointmentCreate,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    response: Response,
) -> Appointment:
    made, new = await commands.appoint(
        deps, principal, body.phone, body.name, body.role, body.scope, cid
    )
    response.status_code = 201 if new else 200
    return _appointment(made)


@appointments.delete(
    "/{appointment_id}",
    response_model=Appointment,
    description=(
        "Ends an appointment (same authority as making it); emits "
        "`org.tongxin.appointment.ended`. The next refresh carries no such role."
    ),
)
async def end_appointment(
    appointment_id: str, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> Appointment:
    return _appointment(await commands.end_appointment(deps, principal, appointment_id, cid))


@appointments.get(
    "",
    response_model=AppointmentPage,
    description="Appointments in and below `scope`, for admins (and services) covering it.",
)
async def list_appointments(
    principal: CurrentPrincipal,
    deps: Deps,
    scope: Annotated[OrgPath, Query()],
    include_ended: bool = False,
) -> AppointmentPage:
    found = await queries.list_appointments(deps, principal, scope, include_ended)
    return AppointmentPage(items=[_appointment(a) for a in found])


# --- discovery --------------------------------------------------------------------------


@wellknown.get(
    "/jwks.json", openapi_extra=PUBLIC, description="The public keys tokens are signed with (JWKS)."
)
async def jwks_document(deps: Deps) -> dict[str, Any]:
    return jwks(deps.settings)


@wellknown.get(
    "/openid-configuration", openapi_extra=PUBLIC, description="OpenID Connect discovery metadata."
)
async def openid_configuration(deps: Deps) -> dict[str, Any]:
    base = deps.settings.jwt_issuer.rstrip("/")
    return {
        "issuer": deps.settings.jwt_issuer,
        "jwks_uri": f"{base}/.well-known/jwks.json",
        "token_endpoint": f"{base}/v1/auth/token",
        "userinfo_endpoint": f"{base}/v1/me",
        "grant_types_supported": ["sms_code", "refresh_token", "client_credentials"],
        "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        "response_types_supported": ["token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [ALGORITHM],
        "claims_supported": ["iss", "aud", "sub", "role", "scope", "sid", "exp", "iat", "jti"],
    }


routers = [auth, people, appointments, wellknown]
