"""The need aggregate: its state and the rules of its lifecycle. No I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.events.needs import Kind, Location, NeedPosted

NeedStatus = Literal[
    "pending_review", "open", "claimed", "completed", "confirmed", "rejected", "cancelled"
]


class DomainError(Exception):
    """A rule refused the command; `status` is the HTTP status it maps to."""

    def __init__(self, status: int, message: str, **details: object) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details


class Requester(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=60)
    phone: str = Field(pattern=r"^\+?[0-9][0-9 -]{5,19}$")


class Need(BaseModel):
    """The stored state of one need."""

    id: str
    community_id: str
    title: str
    description: str = ""
    category: str
    kind: Kind
    slots: int
    requester: Requester
    requester_id: str
    beneficiaries: int = 0
    location: Location | None = None
    skills: list[str] = []
    due_at: datetime | None = None
    status: NeedStatus
    posted_by: str
    request_hash: str | None = None
    created_at: datetime
    updated_at: datetime


def post_need(need: Need) -> tuple[Need, list[NeedPosted]]:
    """A new need waits for the committee's review."""
    posted = need.model_copy(update={"status": "pending_review"})
    event = NeedPosted(
        need_id=posted.id,
        community_id=posted.community_id,
        category=posted.category,
        kind=posted.kind,
        title=posted.title,
        slots=posted.slots,
        beneficiaries=posted.beneficiaries,
        skills=posted.skills,
        location=posted.location,
        due_at=posted.due_at,
        requester_id=posted.requester_id,
        posted_by=posted.posted_by,
        status=posted.status,
        posted_at=posted.created_at,
    )
    return posted, [event]
