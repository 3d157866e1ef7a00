"""HTTP → queries and commands for the notify service."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from services.notify.inbox import Inbox
from shared.auth import CurrentPrincipal
from shared.http import ApiError

router = APIRouter(prefix="/v1", tags=["inbox"])


@router.get("/inbox")
async def inbox(
    principal: CurrentPrincipal, request: Request, recipient_id: str = Query(min_length=1)
) -> dict[str, Any]:
    if principal.sub != recipient_id:
        raise ApiError(403, "you read only your own inbox / 只能查看自己的消息")
    box: Inbox = request.app.state.inbox
    items = await box.list(recipient_id)
    return {"items": items, "unread": sum(not i["read"] for i in items), "next_cursor": None}
