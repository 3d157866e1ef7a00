"""What the needs list index holds of each need, and in which buckets (`shared.listed_heads`).

Newest first by (created_at, id). Buckets: each org unit the need's community lies in (the
community, its street, its district) with the status, so that a scope is one bucket; the path
it is opened to with the status (needs of other communities opened to a street or district);
each person it is the requester or a participant of (their own needs, whatever the status);
each volunteer and organisation holding an active claim on it (the claim caps count these).
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.list_index import Entry
from shared.mongo.client import Document
from shared.orgpath import OrgPath

PROJECTION = (
    "community_id",
    "status",
    "category",
    "kind",
    "requester_id",
    "participants",
    "open_to",
    "has_expired_claims",
    "created_at",
    # for the background passes and the claim caps, which ask the index instead of a scan
    "next_claim_expiry",
    "next_auto_confirm",
    "next_reminder",
    "active_volunteer_ids",
    "active_organization_ids",
)
Due = Literal["next_claim_expiry", "next_auto_confirm", "next_reminder"]


@dataclass(frozen=True)
class ListedNeed(Entry):
    community_id: str
    status: str
    category: str
    kind: str
    requester_id: str
    participants: tuple[str, ...]
    open_to: str
    has_expired_claims: bool
    next_claim_expiry: datetime | None = None
    next_auto_confirm: datetime | None = None
    next_reminder: datetime | None = None

    def due(self, when: Due, now: datetime) -> bool:
        at: datetime | None = getattr(self, when)
        return at is not None and at <= now


def within(scope: str, status: str) -> Hashable:
    return ("within", scope, status)


def opened_to(path: str, status: str) -> Hashable:
    return ("open_to", path, status)


def of_person(person_id: str) -> Hashable:
    return ("person", person_id)


def holding(kind: Literal["volunteer", "organization"], ident: str) -> Hashable:
    return ("holding", kind, ident)


def listed_need(head: Document) -> ListedNeed:
    """The entry of a head document (or of the state a commit stores, `_id` and `_version`
    added)."""
    need_id = str(head["_id"])
    community, status = str(head["community_id"]), str(head["status"])
    participants = tuple(head.get("participants") or ())
    open_to = str(head.get("open_to") or "")
    buckets: list[Hashable] = [within(a, status) for a in OrgPath(community).ancestors()]
    if open_to:
        buckets.append(opened_to(open_to, status))
    buckets.extend(of_person(p) for p in dict.fromkeys((str(head["requester_id"]), *participants)))
    buckets.extend(holding("volunteer", v) for v in head.get("active_volunteer_ids") or ())
    buckets.extend(holding("organization", o) for o in head.get("active_organization_ids") or ())
    return ListedNeed(
        id=need_id,
        version=int(head["_version"]),
        key=(head["created_at"], need_id),
        buckets=tuple(buckets),
        community_id=community,
        status=status,
        category=str(head["category"]),
        kind=str(head["kind"]),
        requester_id=str(head["requester_id"]),
        participants=participants,
        open_to=open_to,
        has_expired_claims=bool(head.get("has_expired_claims")),
        next_claim_expiry=head.get("next_claim_expiry"),
        next_auto_confirm=head.get("next_auto_confirm"),
        next_reminder=head.get("next_reminder"),
    )
