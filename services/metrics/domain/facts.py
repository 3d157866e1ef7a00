"""The facts the metrics projection keeps, and how each event merges into them. No I/O.

A fact is keyed by its aggregate's id (need, volunteer, team, organisation, org unit,
notification) and remembers the ids of the events merged into it, so a redelivered event
changes nothing. Merges commute: a `task.completed` merged before its `project.claimed`
ends in the same fact as the other way round. Times are the events' own (`posted_at`,
`claimed_at`, ...), never the time an event arrived.

Long because every fact and the merge of every event type it depends on are kept together:
that merges commute can only be checked with all of them in view.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict

from shared.events.envelope import EventPayload
from shared.events.needs import (
    ClaimantType,
    HoursVerified,
    NeedApproved,
    NeedCancelled,
    NeedEvent,
    NeedPosted,
    NeedRejected,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
    TaskConfirmed,
    VolunteerHours,
)
from shared.events.notify import NotificationDelivered, NotificationEvent, NotificationFailed
from shared.events.volunteers import (
    OrganizationRegistered,
    OrgUnitUpdated,
    TeamEvent,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.visibility import mask_name

FactKind = Literal["need", "volunteer", "team", "organization", "org_unit", "notification"]
FACT_KINDS: tuple[FactKind, ...] = (
    "need",
    "volunteer",
    "team",
    "organization",
    "org_unit",
    "notification",
)


def _aware(t: datetime) -> datetime:
    """A time without a zone is taken as UTC, so every comparison is between aware times."""
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


Time = Annotated[datetime, AfterValidator(_aware)]


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore", validate_assignment=True)


class Fact(Record):
    id: str = ""
    # The org path the fact counts under (a need's community, a volunteer's home, ...).
    community: str = ""
    applied: list[str] = []


class ClaimFact(Record):
    claimant_type: ClaimantType = "volunteer"
    claimed_at: Time | None = None  # None while only the release is known
    filled: bool = False  # this claim took the last slot: the need reached `claimed`
    volunteer_ids: list[str] = []
    released_at: Time | None = None


class Figures(Record):
    hours: list[VolunteerHours] = []
    beneficiaries_served: int = 0
    goods_count: int = 0
    funds_cents: int = 0


class CompletionFact(Figures):
    """The declared figures, and the verified ones (the newest revision) once verified."""

    completed_at: Time | None = None  # None while only the confirmation is known
    due_at: Time | None = None
    confirmed_at: Time | None = None
    rating: int | None = None
    # Declared figures wait for verification (facts stored before verification existed
    # do not: their figures were final).
    awaiting_verification: bool = False
    verified_revision: int = 0
    verified: Figures | None = None

    def counted(self) -> Figures | None:
        """The figures the sums count; None while they await verification."""
        if self.verified is not None:
            return self.verified
        return None if self.awaiting_verification else self

    def verify(self, revision: int, figures: Figures) -> None:
        if revision > self.verified_revision:
            self.verified_revision, self.verified = revision, figures


class NeedFact(Fact):
    category: str = "other"
    kind: str = "wish"
    posted_at: Time | None = None
    posted_open: bool = False  # posted straight into the project library
    approved_at: Time | None = None
    rejected_at: Time | None = None
    cancelled_at: Time | None = None
    due_at: Time | None = None
    claims: dict[str, ClaimFact] = {}
    completions: dict[str, CompletionFact] = {}

    @property
    def opened_at(self) -> datetime | None:
        """When the need became claimable."""
        return self.approved_at or (self.posted_at if self.posted_open else None)

    @property
    def filled_at(self) -> datetime | None:
        """The first time every slot was taken (status `claimed`)."""
        return _earliest(c.claimed_at for c in self.claims.values() if c.filled)

    @property
    def completed_at(self) -> datetime | None:
        return _earliest(c.completed_at for c in self.completions.values())


class Latest(Record):
    """Which event last set a 'latest wins' value: later event time, then event id."""

    at: Time | None = None
    event_id: str = ""

    def older_than(self, at: datetime, event_id: str) -> bool:
        return self.at is None or (self.at, self.event_id) < (_aware(at), event_id)


class VolunteerFact(Fact):
    registered_at: Time | None = None
    active: bool = True
    party_org: bool = False  # a party organisation is recorded: a party member (党员)
    name_masked: str = ""  # the first character only: the metrics store holds no full name
    profile: Latest = Latest()


class TeamFact(Fact):
    formed_at: Time | None = None
    name: str = ""
    service_type: str = ""
    members: list[str] = []


class OrganizationFact(Fact):
    registered_at: Time | None = None
    name: str = ""
    kind: str = ""


class OrgUnitFact(Fact):
    name: str = ""
    level: str = ""
    parent: str | None = None
    profile: Latest = Latest()


class NotificationFact(Fact):
    channel: str = ""
    delivered_at: Time | None = None
    failed_at: Time | None = None


FACT_TYPES: dict[FactKind, type[Fact]] = {
    "need": NeedFact,
    "volunteer": VolunteerFact,
    "team": TeamFact,
    "organization": OrganizationFact,
    "org_unit": OrgUnitFact,
    "notification": NotificationFact,
}


def fact_key(payload: EventPayload) -> tuple[FactKind, str] | None:
    """Which fact an event merges into; None for events no figure depends on."""
    if type(payload) not in MERGERS:
        return None
    if isinstance(payload, NeedEvent):
        return "need", payload.need_id
    if isinstance(payload, VolunteerRegistered):
        return "volunteer", payload.volunteer_id
    if isinstance(payload, TeamEvent):
        return "team", payload.team_id
    if isinstance(payload, OrganizationRegistered):
        return "organization", payload.organization_id
    if isinstance(payload, OrgUnitUpdated):
        return "org_unit", payload.path
    if isinstance(payload, NotificationEvent):
        return "notification", payload.notification_id
    return None


def load_fact(kind: FactKind, state: dict[str, Any] | None) -> Fact:
    return FACT_TYPES[kind].model_validate(state or {})


def merge(fact: Fact | None, event_id: str, payload: EventPayload) -> Fact | None:
    """The fact with the event merged in; None when the event was merged before."""
    key = fact_key(payload)
    if key is None:
        return None
    current = fact if fact is not None else FACT_TYPES[key[0]]()
    if event_id in current.applied:
        return None
    merged = current.model_copy(deep=True)
    merged.id = key[1]
    MERGERS[type(payload)](merged, payload, event_id)
    merged.applied.append(event_id)
    return merged


Move = tuple[EventPayload, "Fact | None", "Fact"]


def fold(
    fact: Fact | None, events: Iterable[tuple[str, EventPayload]]
) -> tuple[Fact | None, list[Move]]:
    """The fact with the events merged in order (None when every one was merged before), and
    each merge as (payload, before, after)."""
    moves: list[Move] = []
    current = fact
    for event_id, payload in events:
        merged = merge(current, event_id, payload)
        if merged is not None:
            moves.append((payload, current, merged))
            current = merged
    return (current if moves else None), moves


def _earliest(times: Iterable[datetime | None]) -> datetime | None:
    present = [t for t in times if t is not None]
    return min(present) if present else None


def _first(a: datetime | None, b: datetime | None) -> datetime | None:
    """The earlier of two times, either of which may be unknown."""
    if a is None or b is None:
        known = a if b is None else b
        return None if known is None else _aware(known)
    return min(_aware(a), _aware(b))


# --- needs ------------------------------------------------------------------------------


def _need(fact: Fact, p: NeedEvent) -> NeedFact:
    assert isinstance(fact, NeedFact)
    fact.community, fact.category, fact.kind = p.community_id, p.category, p.kind
    return fact


def _posted(fact: Fact, p: NeedPosted, _: str) -> None:
    need = _need(fact, p)
    need.posted_at = _first(need.posted_at, p.posted_at)
    need.due_at = need.due_at or p.due_at
    need.posted_open = need.posted_open or p.status == "open"


def _approved(fact: Fact, p: NeedApproved, _: str) -> None:
    need = _need(fact, p)
    need.approved_at = _first(need.approved_at, p.approved_at)
    need.posted_at = _first(need.posted_at, p.posted_at)
    need.due_at = need.due_at or p.due_at


def _rejected(fact: Fact, p: NeedRejected, _: str) -> None:
    need = _need(fact, p)
    need.rejected_at = _first(need.rejected_at, p.rejected_at)


def _cancelled(fact: Fact, p: NeedCancelled, _: str) -> None:
    need = _need(fact, p)
    need.cancelled_at = _first(need.cancelled_at, p.cancelled_at)


def _claim(need: NeedFact, claim_id: str) -> ClaimFact:
    return need.claims.setdefault(claim_id, ClaimFact())


def _claimed(fact: Fact, p: ProjectClaimed, _: str) -> None:
    need = _need(fact, p)
    need.posted_at = _first(need.posted_at, p.posted_at)
    claim = _claim(need, p.claim_id)
    claim.claimant_type = p.claimant_type
    claim.claimed_at = p.claimed_at
    claim.filled = p.need_status == "claimed"
    claim.volunteer_ids = list(p.volunteer_ids)


def _released(fact: Fact, p: ProjectClaimReleased, _: str) -> None:
    need = _need(fact, p)
    claim = _claim(need, p.claim_id)
    if claim.claimed_at is None:
        claim.claimant_type = p.claimant_type
        claim.volunteer_ids = list(p.volunteer_ids)
    claim.released_at = _first(claim.released_at, p.released_at)


def _completion(need: NeedFact, completion_id: str) -> CompletionFact:
    return need.completions.setdefault(completion_id, CompletionFact())


def _completed(fact: Fact, p: TaskCompleted, _: str) -> None:
    need = _need(fact, p)
    need.posted_at = _first(need.posted_at, p.posted_at)
    need.due_at = need.due_at or p.due_at
    done = _completion(need, p.completion_id)
    done.completed_at = p.completed_at
    done.due_at = p.due_at
    done.hours = list(p.hours)
    done.beneficiaries_served = p.beneficiaries_served
    done.goods_count = p.goods_count
    done.funds_cents = p.funds_cents
    done.awaiting_verification = p.hours_status != "verified"


def _figures(p: HoursVerified) -> Figures:
    return Figures(
        hours=list(p.hours),
        beneficiaries_served=p.beneficiaries_served,
        goods_count=p.goods_count,
        funds_cents=p.funds_cents,
    )


def _hours_verified(fact: Fact, p: HoursVerified, _: str) -> None:
    need = _need(fact, p)
    done = _completion(need, p.completion_id)
    done.completed_at = done.completed_at or p.completed_at
    done.verify(p.revision, _figures(p))


def _confirmed(fact: Fact, p: TaskConfirmed, _: str) -> None:
    need = _need(fact, p)
    done = _completion(need, p.completion_id)
    done.confirmed_at = _first(done.confirmed_at, p.confirmed_at)
    done.rating = p.rating


# --- volunteers, teams, organisations, org units ---------------------------------------


def _volunteer(fact: Fact, p: VolunteerRegistered, event_id: str) -> None:
    assert isinstance(fact, VolunteerFact)
    fact.registered_at = _first(fact.registered_at, p.registered_at)
    at = p.updated_at if isinstance(p, VolunteerUpdated) else p.registered_at
    if fact.profile.older_than(at, event_id):
        fact.community, fact.active = p.home_community_id, p.active
        fact.party_org = p.party_member or bool(p.party_org)
        fact.name_masked = mask_name(p.name)
        fact.profile = Latest(at=at, event_id=event_id)


def _team(fact: Fact, p: TeamEvent) -> TeamFact:
    assert isinstance(fact, TeamFact)
    fact.community = p.community_id
    return fact


def _team_formed(fact: Fact, p: TeamFormed, _: str) -> None:
    team = _team(fact, p)
    team.formed_at = _first(team.formed_at, p.formed_at)
    team.name, team.service_type = p.name, p.service_type
    team.members = sorted({*team.members, *p.member_ids, p.leader_id})


def _member_joined(fact: Fact, p: TeamMemberJoined, _: str) -> None:
    team = _team(fact, p)
    team.members = sorted({*team.members, p.volunteer_id})


def _leader_changed(fact: Fact, p: TeamLeaderChanged, _: str) -> None:
    team = _team(fact, p)
    team.members = sorted({*team.members, p.leader_id})


def _organization(fact: Fact, p: OrganizationRegistered, _: str) -> None:
    assert isinstance(fact, OrganizationFact)
    fact.community, fact.name, fact.kind = p.community_id, p.name, p.kind
    fact.registered_at = _first(fact.registered_at, p.registered_at)


def _org_unit(fact: Fact, p: OrgUnitUpdated, event_id: str) -> None:
    assert isinstance(fact, OrgUnitFact)
    fact.community = p.path
    if fact.profile.older_than(p.updated_at, event_id):
        fact.name, fact.level, fact.parent = p.name, p.level, p.parent
        fact.profile = Latest(at=p.updated_at, event_id=event_id)


# --- notifications ----------------------------------------------------------------------


def _delivered(fact: Fact, p: NotificationDelivered, _: str) -> None:
    assert isinstance(fact, NotificationFact)
    fact.community, fact.channel = p.community_id, p.channel
    fact.delivered_at = _first(fact.delivered_at, p.delivered_at)


def _failed(fact: Fact, p: NotificationFailed, _: str) -> None:
    assert isinstance(fact, NotificationFact)
    fact.community, fact.channel = p.community_id, p.channel
    fact.failed_at = _first(fact.failed_at, p.failed_at)


Merger = Callable[[Fact, Any, str], None]

MERGERS: dict[type[EventPayload], Merger] = {
    NeedPosted: _posted,
    NeedApproved: _approved,
    NeedRejected: _rejected,
    NeedCancelled: _cancelled,
    ProjectClaimed: _claimed,
    ProjectClaimReleased: _released,
    TaskCompleted: _completed,
    TaskConfirmed: _confirmed,
    HoursVerified: _hours_verified,
    VolunteerRegistered: _volunteer,
    VolunteerUpdated: _volunteer,
    TeamFormed: _team_formed,
    TeamMemberJoined: _member_joined,
    TeamLeaderChanged: _leader_changed,
    OrganizationRegistered: _organization,
    OrgUnitUpdated: _org_unit,
    NotificationDelivered: _delivered,
    NotificationFailed: _failed,
}
