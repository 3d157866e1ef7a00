"""What clients read: the public shapes of needs, claims, pages and the audit trail.

The stored state holds more than a reader may see: the requester's phone is masked for
all but admins in scope and active claimers, and internal fields never leave.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from services.needs.domain import (
    Claim,
    Completion,
    Confirmation,
    Need,
    NeedStatus,
    Review,
)
from services.needs.policy import sees_phone
from shared.auth import Principal
from shared.events.needs import Kind, Location, OnBehalfOf, Openness
from shared.http import ApiError
from shared.mongo.client import Document
from shared.visibility import view_for


class RequesterPublic(BaseModel):
    """Whole for admins in scope, active claimers and the requester; else 王** and
    138****5678."""

    name: str
    phone: str


class CancellationPublic(BaseModel):
    by: str
    at: datetime
    reason: str | None


class NeedPublic(BaseModel):
    id: str
    community_id: str
    title: str
    description: str
    category: str
    kind: Kind
    slots: int
    slots_taken: int
    requester: RequesterPublic
    requester_id: str
    beneficiaries: int
    location: Location | None = Field(
        description="exact for admins in scope, active claimers and the requester; else 0.01°"
    )
    skills: list[str]
    due_at: datetime | None
    openness: Openness
    status: NeedStatus
    claims: list[Claim] = Field(
        description="expired claims (counted against nobody) are shown to admins in scope only"
    )
    review: Review | None
    cancellation: CancellationPublic | None
    completion: Completion | None
    confirmation: Confirmation | None
    posted_by: str
    on_behalf_of: OnBehalfOf | None = None  # the resident a grid worker posted for
    photo: bool = Field(
        default=False,
        description=(
            "a photo is attached (GET /v1/needs/{id}/photo); told, on the GETs of needs, only "
            "to those who may see it: the requester, admins in scope, active claimers"
        ),
    )
    created_at: datetime
    updated_at: datetime
    version: int


class PhotoInfo(BaseModel):
    need_id: str
    width: int
    height: int
    bytes: int = Field(description="size of the stored (re-encoded) JPEG")


class NeedPage(BaseModel):
    items: list[NeedPublic]
    next_cursor: str | None


class ClaimCreated(Claim):
    need_id: str
    need_status: NeedStatus
    slots_total: int
    slots_taken: int


class HistoryEntry(BaseModel):
    version: int
    action: str
    actor: str
    role: str | None
    reason: str | None
    at: datetime
    status: NeedStatus
    events: list[str]
    # A grid worker's act for a resident: whom for, and who acted.
    on_behalf_of: OnBehalfOf | None = None
    acted_by: str | None = None
    # the claims this change concerned (claimed, released, expired, completed, cancelled)
    claim_ids: list[str] = []


class HistoryPage(BaseModel):
    items: list[HistoryEntry]
    next_cursor: str | None = None


def need_view(p: Principal, need: Need, version: int) -> NeedPublic:
    # The requester's phone, name and exact place: admins in scope, active claimers, the
    # requester (shared.visibility).
    view = view_for(p, need.community_id, need.requester_id, also=sees_phone(p, need))
    cancellation = (
        CancellationPublic(**need.cancellation.model_dump(include={"by", "at", "reason"}))
        if need.cancellation
        else None
    )
    return NeedPublic(
        **need.model_dump(
            include={
                "id",
                "community_id",
                "title",
                "description",
                "category",
                "kind",
                "slots",
                "slots_taken",
                "requester_id",
                "beneficiaries",
                "skills",
                "due_at",
                "openness",
                "status",
                "posted_by",
                "created_at",
                "updated_at",
            }
        ),
        location=view.location(need.location),
        claims=need.claims
        if p.administers(need.community_id)
        else [c for c in need.claims if c.release_reason != "expired"],
        review=need.review,
        completion=need.completion,
        confirmation=need.confirmation,
        cancellation=cancellation,
        on_behalf_of=need.on_behalf_of,
        requester=RequesterPublic(
            name=view.name(need.requester.name), phone=view.phone(need.requester.phone)
        ),
        version=version,
    )


def claim_view(need: Need, claim: Claim) -> ClaimCreated:
    return ClaimCreated(
        **claim.model_dump(),
        need_id=need.id,
        need_status=need.status,
        slots_total=need.slots,
        slots_taken=need.slots_taken,
    )


def history_view(commits: list[Document]) -> HistoryPage:
    items = []
    for commit in commits:
        meta: dict[str, Any] = commit.get("meta") or {}
        behalf = _on_behalf(commit)
        items.append(
            HistoryEntry(
                version=commit["version"],
                action=meta.get("action", "unknown"),
                actor=meta.get("actor", "unknown"),
                role=meta.get("role"),
                reason=meta.get("reason"),
                at=meta.get("at") or commit["created_at"],
                status=commit["state"]["status"],
                events=[e["type"] for e in commit.get("events", [])],
                claim_ids=_claims_concerned(commit),
                on_behalf_of=behalf[0] if behalf else None,
                acted_by=behalf[1] if behalf else None,
            )
        )
    return HistoryPage(items=items)


def _on_behalf(commit: Document) -> tuple[OnBehalfOf, str] | None:
    for stored in commit.get("events", []):
        data = json.loads(stored["body"]).get("data", {})
        if data.get("on_behalf_of") and data.get("acted_by"):
            return OnBehalfOf.model_validate(data["on_behalf_of"]), str(data["acted_by"])
    return None


def _claims_concerned(commit: Document) -> list[str]:
    ids: list[str] = []
    for stored in commit.get("events", []):
        data = json.loads(stored["body"]).get("data", {})
        found = [data["claim_id"]] if data.get("claim_id") else []
        found += data.get("claim_ids", []) + data.get("released_claim_ids", [])
        ids.extend(i for i in found if i not in ids)
    return ids


def encode_cursor(position: tuple[datetime, str] | None) -> str | None:
    if position is None:
        return None
    at, need_id = position
    raw = json.dumps([at.isoformat(), need_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[datetime, str] | None:
    if not cursor:
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, need_id = json.loads(raw)
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None or not isinstance(need_id, str):
            raise ValueError(cursor)
        return moment, need_id
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise ApiError(
            422,
            "cursor: 无效的分页游标 / invalid cursor",
            details=[{"field": "cursor", "message": "not a cursor this API issued"}],
        ) from None
