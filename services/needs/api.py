"""HTTP → commands for the needs service; nothing else."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from services.needs import handlers
from services.needs.domain import Need, Requester
from services.needs.handlers import NeedsDeps
from shared.auth import CurrentPrincipal
from shared.events.needs import Kind, Location
from shared.http import ApiError, not_found

router = APIRouter(prefix="/v1/needs", tags=["needs"])


def get_deps(request: Request) -> NeedsDeps:
    deps: NeedsDeps = request.app.state.deps
    return deps


Deps = Annotated[NeedsDeps, Depends(get_deps)]


class NeedCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    community_id: str = Field(min_length=1, max_length=200)
    title: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=4000)
    category: str
    kind: Kind = "wish"
    slots: int = Field(default=1, ge=1, le=500)
    requester: Requester
    beneficiaries: int = Field(default=0, ge=0)
    location: Location | None = None
    skills: list[str] = []
    due_at: datetime | None = None


class NeedPublic(BaseModel):
    id: str
    community_id: str
    title: str
    description: str
    category: str
    kind: Kind
    slots: int
    requester: dict[str, str]
    beneficiaries: int
    location: Location | None
    skills: list[str]
    due_at: datetime | None
    status: str
    created_at: datetime
    updated_at: datetime


def public(need: Need) -> NeedPublic:
    phone = need.requester.phone
    masked = phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"
    return NeedPublic(
        **need.model_dump(exclude={"requester", "requester_id", "posted_by", "request_hash"}),
        requester={"name": need.requester.name, "phone": masked},
    )


@router.post("", status_code=201, response_model=NeedPublic)
async def post_need(
    body: NeedCreate, principal: CurrentPrincipal, deps: Deps, request: Request
) -> NeedPublic:
    if not principal.covers(body.community_id):
        raise ApiError(403, "community outside your scope / 社区不在您的范围内")
    now = datetime.now(UTC)
    need = Need(
        id=str(uuid.uuid4()),
        **body.model_dump(),
        requester_id=principal.sub,
        posted_by=principal.sub,
        status="pending_review",
        created_at=now,
        updated_at=now,
    )
    posted = await handlers.post_need(deps, need, request.state.correlation_id)
    return public(posted)


@router.get("/{need_id}", response_model=NeedPublic)
async def get_need(need_id: str, principal: CurrentPrincipal, deps: Deps) -> NeedPublic:
    need, _ = await deps.repo.get(need_id)
    if need is None:
        raise not_found("need", need_id)
    return public(need)
