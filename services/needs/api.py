"""HTTP → commands for the needs service; nothing else.

Over 300 lines because it is the service's one visible list of routes (the lifecycle's
nine commands, claims, photos, lists); each route is a few lines handing over to a command.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, File, Header, Query, Response, UploadFile

from services.needs.adapters.photos import PhotoStore
from services.needs.domain import attendance
from services.needs.domain.need import Need, NeedStatus
from services.needs.handlers import commands, photos, queries
from services.needs.handlers.commands import NeedsDeps
from services.needs.handlers.queries import NeedFilters
from services.needs.schemas import (
    CURSOR_PATTERN,
    CancelNeed,
    CheckIn,
    CheckInCode,
    ClaimCreated,
    ClaimNeed,
    CompleteNeed,
    ConfirmNeed,
    DisputeCompletion,
    HistoryPage,
    NeedPage,
    NeedPublic,
    PhotoInfo,
    PostNeed,
    RejectNeed,
    VerifyCompletion,
    claim_view,
    decode_cursor,
    encode_cursor,
    history_view,
    need_view,
)
from shared.auth import CurrentPrincipal, Principal
from shared.events.needs import Kind
from shared.http import CorrelationId, ErrorBody, app_deps
from shared.orgpath import OrgPath

ERRORS = {
    401: "no or bad token / 未认证",
    403: "not allowed for this caller / 无权限",
    404: "no such need or claim, or outside the caller's scope / 未找到",
    409: "the need's state does not allow it, no slot left, duplicate (details.status) / 冲突",
    413: "body too large / 请求体过大",
    422: "bad input: which field and why / 输入无效",
    503: "a dependency is down, or the need is too busy: retry / 暂不可用",
}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {s: {"model": ErrorBody, "description": ERRORS[s]} for s in statuses}


router = APIRouter(prefix="/v1/needs", tags=["needs"], responses=errors(401, 422, 503))
ACTING = errors(403, 404, 409)
# A command on one need with a body: (deps, principal, need id, body, correlation id).
NeedAction = Callable[[NeedsDeps, Principal, str, Any, str | None], Awaitable[tuple[Need, int]]]


Deps = Annotated[NeedsDeps, Depends(app_deps)]


async def get_photos(deps: Deps) -> PhotoStore:
    return deps.photos


Photos = Annotated[PhotoStore, Depends(get_photos)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="Repeating a POST with the same key and body answers the first response.",
    ),
]


@router.post("", status_code=201, response_model=NeedPublic, responses=errors(403, 409, 413))
async def post_need(
    body: PostNeed,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    response: Response,
    idempotency_key: IdempotencyKey = None,
) -> NeedPublic:
    """Posts a need for review (resident: own community; admin: inside their scope)."""
    need, version, replayed = await commands.post_need(deps, principal, body, idempotency_key, cid)
    response.headers["Location"] = f"/v1/needs/{need.id}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return need_view(principal, need, version)


@router.get("", response_model=NeedPage)
async def list_needs(
    principal: CurrentPrincipal,
    deps: Deps,
    store: Photos,
    scope: Annotated[OrgPath | None, Query()] = None,
    status: NeedStatus | None = None,
    category: Annotated[str | None, Query(max_length=60)] = None,
    kind: Kind | None = None,
    claims_expired: Annotated[
        bool, Query(description="admins: only needs with claims that expired")
    ] = False,
    cursor: Annotated[str | None, Query(max_length=81, pattern=CURSOR_PATTERN)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NeedPage:
    """Needs the caller may see, newest first; `next_cursor` fetches the following page."""
    filters = NeedFilters(
        scope=scope, status=status, category=category, kind=kind, claims_expired=claims_expired
    )
    rows, last = await queries.list_needs(deps, principal, filters, decode_cursor(cursor), limit)
    shown = [(need, need_view(principal, need, version)) for need, version in rows]
    await photos.mark_photos(store, principal, shown)
    return NeedPage(items=[view for _, view in shown], next_cursor=encode_cursor(last))


@router.get("/{need_id}", response_model=NeedPublic, responses=errors(404))
async def get_need(
    need_id: str, principal: CurrentPrincipal, deps: Deps, store: Photos
) -> NeedPublic:
    need, version = await queries.get_need(deps, principal, need_id)
    view = need_view(principal, need, version)
    await photos.mark_photos(store, principal, [(need, view)])
    return view


@router.put(
    "/{need_id}/photo",
    response_model=PhotoInfo,
    responses=errors(403, 404, 409, 413),
    description=(
        "Attaches a photo to a wish (a later one replaces it), by its requester or an admin "
        "in scope, while it is pending review or open. JPEG, PNG or WebP, within the "
        "service's body limit (TONGXIN_MAX_BODY_BYTES); any other file answers 422. The "
        "picture is re-encoded as JPEG (at most 1600 px a side): EXIF, GPS and every other "
        "metadata are not kept."
    ),
)
async def attach_photo(
    need_id: str,
    principal: CurrentPrincipal,
    deps: Deps,
    store: Photos,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP")],
) -> PhotoInfo:
    photo = await photos.attach_photo(deps, store, principal, need_id, await file.read())
    return PhotoInfo(need_id=need_id, width=photo.width, height=photo.height, bytes=len(photo.data))


@router.get(
    "/{need_id}/photo",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the re-encoded picture"},
        **errors(404),
    },
    description=(
        "The wish's photo, for the requester, admins in scope and active claimers; to anyone "
        "else (and when there is none) 404."
    ),
)
async def get_photo(
    need_id: str, principal: CurrentPrincipal, deps: Deps, store: Photos
) -> Response:
    photo = await photos.photo_of(deps, store, principal, need_id)
    return Response(
        photo.data,
        media_type=photo.content_type,
        headers={"Cache-Control": "private, no-store", "Content-Disposition": "inline"},
    )


@router.get("/{need_id}/history", response_model=HistoryPage, responses=errors(403, 404))
async def need_history(need_id: str, principal: CurrentPrincipal, deps: Deps) -> HistoryPage:
    """Who approved, rejected, claimed, released or cancelled, when and why (admins)."""
    return history_view(await queries.need_history(deps, principal, need_id))


@router.post("/{need_id}/approve", response_model=NeedPublic, responses=ACTING)
async def approve_need(
    need_id: str, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> NeedPublic:
    need, version = await commands.approve_need(deps, principal, need_id, cid)
    return need_view(principal, need, version)


@router.post("/{need_id}/reject", response_model=NeedPublic, responses=ACTING)
async def reject_need(
    need_id: str, body: RejectNeed, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> NeedPublic:
    need, version = await commands.reject_need(deps, principal, need_id, body, cid)
    return need_view(principal, need, version)


@router.post("/{need_id}/cancel", response_model=NeedPublic, responses=ACTING)
async def cancel_need(
    need_id: str,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    body: Annotated[CancelNeed | None, Body()] = None,
) -> NeedPublic:
    need, version = await commands.cancel_need(deps, principal, need_id, body or CancelNeed(), cid)
    return need_view(principal, need, version)


@router.post("/{need_id}/claims", status_code=201, response_model=ClaimCreated, responses=ACTING)
async def claim_need(
    need_id: str,
    body: ClaimNeed,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    response: Response,
) -> ClaimCreated:
    """Claims a slot for oneself, slots for team members (leader), or for an organisation."""
    need, _, claim = await commands.claim_need(deps, principal, need_id, body, cid)
    response.headers["Location"] = f"/v1/needs/{need.id}"
    return claim_view(need, claim)


@router.delete("/{need_id}/claims/{claim_id}", response_model=NeedPublic, responses=ACTING)
async def release_claim(
    need_id: str, claim_id: str, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> NeedPublic:
    need, version = await commands.release_claim(deps, principal, need_id, claim_id, cid)
    return need_view(principal, need, version)


def _need_action(path: str, body_type: type[Any], command: NeedAction, doc: str | None) -> None:
    """A POST on one need with a body, answered with the need as it leaves it (one route
    body for the completion steps; FastAPI reads the signature, so `body` is typed here)."""

    async def endpoint(
        need_id: str, body: Any, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
    ) -> NeedPublic:
        need, version = await command(deps, principal, need_id, body, cid)
        return need_view(principal, need, version)

    endpoint.__annotations__["body"] = body_type
    endpoint.__name__ = endpoint.__qualname__ = command.__name__
    endpoint.__doc__ = doc
    router.add_api_route(
        path, endpoint, methods=["POST"], response_model=NeedPublic, responses=ACTING
    )


_need_action("/{need_id}/completion", CompleteNeed, commands.complete_need, None)
_need_action("/{need_id}/confirmation", ConfirmNeed, commands.confirm_need, None)
_need_action(
    "/{need_id}/completion/verification",
    VerifyCompletion,
    commands.verify_completion,
    """Verifies the declared hours (admin, or grid worker for the resident); an admin also
    settles hours under review or in dispute, or corrects verified ones, with a reason.""",
)
_need_action(
    "/{need_id}/completion/dispute",
    DisputeCompletion,
    commands.dispute_completion,
    "The requester or an admin disputes the hours or figures; an admin settles it.",
)


@router.get("/{need_id}/check-in-code", response_model=CheckInCode, responses=ACTING)
async def check_in_code(need_id: str, principal: CurrentPrincipal, deps: Deps) -> CheckInCode:
    """The need's rotating 6-digit check-in code (requester, grid worker, admin in scope)."""
    code, valid_until = await queries.check_in_code(deps, principal, need_id)
    return CheckInCode(code=code, valid_until=valid_until)


def _attendance(step: attendance.Step, doc: str) -> None:
    """The volunteer's check-in or check-out route (one body; the path names the step)."""

    async def endpoint(
        need_id: str,
        claim_id: str,
        body: CheckIn,
        principal: CurrentPrincipal,
        deps: Deps,
        cid: CorrelationId,
    ) -> NeedPublic:
        need, version = await commands.record_attendance(
            deps, principal, need_id, claim_id, step, body, cid
        )
        return need_view(principal, need, version)

    endpoint.__name__ = endpoint.__qualname__ = step
    endpoint.__doc__ = doc
    path = "/{need_id}/claims/{claim_id}/" + step.replace("_", "-")
    router.add_api_route(
        path, endpoint, methods=["POST"], response_model=NeedPublic, responses=ACTING
    )


_attendance("check_in", "The volunteer's arrival, with the code shown on the resident's phone.")
_attendance("check_out", "The volunteer's departure, with the code shown then.")
