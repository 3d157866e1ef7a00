"""HTTP → queries for the metrics service."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from services.metrics.projection import Projection
from shared.auth import CurrentPrincipal
from shared.http import not_found

router = APIRouter(prefix="/v1", tags=["stats"])


class Stats(BaseModel):
    scope: str
    needs_posted: int


@router.get("/stats", response_model=Stats)
async def stats(
    principal: CurrentPrincipal, request: Request, scope: str = Query(min_length=1)
) -> Stats:
    if not principal.covers(scope):
        raise not_found("scope", scope)
    projection: Projection = request.app.state.projection
    return Stats(scope=scope, needs_posted=await projection.count(scope, "org.tongxin.need.posted"))
