"""Who hears what, on which channel, and when. Pure rules: no I/O, no clock of their own.

Long because every rule of who is addressed (scope, skills, distance, caps, fair order, quiet
hours, digests) is one pure function kept beside the others it composes with.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Annotated, Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from shared.categories import CategoryName, skill_categories
from shared.events.envelope import EventPayload
from shared.events.needs import (
    NeedApproved,
    NeedCancelled,
    NeedPosted,
    NeedRejected,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
    TaskConfirmed,
)
from shared.events.notify import Channel as ChannelName
from shared.events.volunteers import PointsCredited
from shared.inputs import JSON_INTEGER, Bool, ClockTime, TimeZone
from shared.orgpath import OrgPath

CHANNELS: tuple[ChannelName, ...] = get_args(ChannelName)
# Channels people read: preferences (quiet hours, digests, daily caps) shape these.
# Webhooks are machine endpoints: every event, as it happens.
PEOPLE_CHANNELS: frozenset[str] = frozenset({"inapp", "email", "sms"})
# Channels that interrupt someone: held through quiet hours, folded into digests.
INTERRUPTING_CHANNELS: frozenset[str] = frozenset({"email", "sms"})

Reason = Literal["requester", "match", "claimer", "team", "volunteer", "subscriber"]
Audience = Literal["personal", "scope"]
Language = Literal["zh", "en"]


# --- preferences and subscriptions -----------------------------------------------------------


class QuietHours(BaseModel):
    """Local times; `start` after `end` wraps midnight (22:00–07:00)."""

    model_config = ConfigDict(extra="forbid")
    start: ClockTime
    end: ClockTime

    def contains(self, local: time) -> bool:
        t = local.replace(tzinfo=None)
        if self.start == self.end:
            return False
        if self.start < self.end:
            return self.start <= t < self.end
        return t >= self.start or t < self.end

    def end_after(self, local_now: datetime) -> datetime:
        """The first end of quiet hours after `local_now` (same timezone)."""
        candidate = local_now.replace(
            hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0
        )
        return candidate if candidate > local_now else candidate + timedelta(days=1)


class Preferences(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # Channels this recipient accepts; a channel left out is muted.
    channels: list[ChannelName] = Field(default_factory=lambda: list(CHANNELS))
    # Categories of approved needs the recipient wants to hear about (besides their skills).
    categories: list[CategoryName] = []
    quiet_hours: QuietHours | None = None
    # One message a day instead of one per event (email and SMS; the inbox keeps each item).
    digest: Bool = False
    digest_hour: Annotated[int, Field(strict=True, ge=0, le=23), JSON_INTEGER] | None = None
    language: Language = "zh"
    timezone: TimeZone | None = None


class Subscription(BaseModel):
    id: str
    recipient_id: str
    channel: ChannelName
    target: str
    event_types: list[str] = []  # empty or "*": every type
    scope: str
    categories: list[str] = []  # empty: every category
    # "scope": every matching event inside `scope` (admins, operators, subscriber services);
    # "personal": only events addressed to the recipient (requester, claimer, matched volunteer).
    audience: Audience
    secret: str | None = None  # webhook signing key; never shown after creation
    created_by: str
    created_at: datetime

    def wants(self, event_type: str, community: str, category: str | None) -> bool:
        if self.event_types and "*" not in self.event_types and event_type not in self.event_types:
            return False
        if not OrgPath(self.scope).covers(community):
            return False
        return not self.categories or (category is not None and category in self.categories)


class Profile(BaseModel):
    """What notify knows about one recipient: preferences and subscriptions."""

    recipient_id: str
    preferences: Preferences | None = None
    subscriptions: dict[str, Subscription] = {}

    @property
    def prefs(self) -> Preferences:
        return self.preferences or Preferences()

    def interests(self) -> list[str]:
        """Categories the recipient subscribed to, by preference or by subscription."""
        cats = set(self.prefs.categories)
        for sub in self.subscriptions.values():
            if sub.audience == "personal":
                cats.update(sub.categories)
        return sorted(cats)

    def subscribed(self, sub: Subscription) -> Profile:
        return self.model_copy(update={"subscriptions": {**self.subscriptions, sub.id: sub}})

    def unsubscribed(self, subscription_id: str) -> Profile:
        kept = {k: v for k, v in self.subscriptions.items() if k != subscription_id}
        return self.model_copy(update={"subscriptions": kept})


# --- the local read model's shapes ----------------------------------------------------------


class RosterEntry(BaseModel):
    """A volunteer as matching needs them: skills, interests, where they live."""

    skills: list[str] = []
    interests: list[str] = []
    lat: float | None = None
    lon: float | None = None


class Claim(BaseModel):
    volunteer_ids: list[str] = []
    team_id: str | None = None
    organization_id: str | None = None
    status: Literal["active", "released", "completed"] = "active"


class NeedView(BaseModel):
    need_id: str
    community_id: str
    category: str
    title: str | None = None
    requester_id: str | None = None
    claims: dict[str, Claim] = {}

    def active_claimers(self, teams: dict[str, TeamView]) -> list[str]:
        out: list[str] = []
        for claim in self.claims.values():
            if claim.status == "active":
                out += claimant_ids(
                    claim.volunteer_ids, claim.team_id, claim.organization_id, teams
                )
        return _unique(out)


class TeamView(BaseModel):
    team_id: str
    community_id: str
    leader_id: str | None = None
    member_ids: list[str] = []

    def everyone(self) -> list[str]:
        return _unique([*([self.leader_id] if self.leader_id else []), *self.member_ids])


def claimant_ids(
    volunteer_ids: Iterable[str],
    team_id: str | None,
    organization_id: str | None,
    teams: dict[str, TeamView],
) -> list[str]:
    out = list(volunteer_ids)
    if team_id and team_id in teams:
        out += teams[team_id].everyone()
    if organization_id:
        out.append(organization_id)
    return _unique(out)


# --- who hears an event -------------------------------------------------------------------


@dataclass(frozen=True)
class Addressee:
    recipient_id: str
    reason: Reason
    distance_km: float | None = None


def addressees(
    payload: EventPayload, need: NeedView | None, teams: dict[str, TeamView]
) -> list[Addressee]:
    """The people an event is about, by the rules of docs/contract.md. Scope subscribers and the
    volunteers an approved need is matched to are added by the caller."""
    out: list[Addressee] = []

    def add(ids: Iterable[str | None], reason: Reason) -> None:
        out.extend(Addressee(i, reason) for i in ids if i)

    match payload:
        case NeedPosted() | NeedApproved() | NeedRejected():
            add([payload.requester_id], "requester")
        case NeedCancelled():
            if payload.cancelled_by != payload.requester_id:
                add([payload.requester_id], "requester")
            claimers = [*payload.volunteer_ids, *(need.active_claimers(teams) if need else [])]
            add((c for c in claimers if c != payload.cancelled_by), "claimer")
        case ProjectClaimed():
            add([payload.requester_id], "requester")
            if payload.claimant_type == "team" and payload.team_id:
                team = teams.get(payload.team_id)
                members = [*payload.volunteer_ids, *(team.everyone() if team else [])]
                add((m for m in members if m != payload.claimed_by), "team")
        case ProjectClaimReleased():
            add([payload.requester_id], "requester")
            claimers = claimant_ids(
                payload.volunteer_ids, payload.team_id, payload.organization_id, teams
            )
            # An automatic release tells the claimer; so does one made over their head.
            if payload.reason == "expired" or payload.released_by not in claimers:
                add((c for c in claimers if c != payload.released_by), "claimer")
        case TaskCompleted():
            add([payload.requester_id], "requester")
        case TaskConfirmed():
            claimers = list(payload.volunteer_ids)
            for team_id in payload.team_ids:
                claimers += teams[team_id].everyone() if team_id in teams else []
            claimers += payload.organization_ids
            add(_unique(claimers), "claimer")
        case PointsCredited():
            add([payload.volunteer_id], "volunteer")
    return merge(out)


def closes_need(payload: EventPayload) -> bool:
    """The need takes no more volunteers: filled (every slot claimed), cancelled, completed."""
    match payload:
        case NeedCancelled() | TaskCompleted() | TaskConfirmed():
            return True
        case ProjectClaimed():
            return payload.slots_taken >= payload.slots_total or payload.need_status != "open"
    return False


def merge(found: Iterable[Addressee]) -> list[Addressee]:
    """One addressee per recipient; the first reason found wins."""
    seen: dict[str, Addressee] = {}
    for a in found:
        seen.setdefault(a.recipient_id, a)
    return list(seen.values())


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0088 * math.asin(math.sqrt(h))


def skill_matches(category: str, skills: Sequence[str], entry: RosterEntry) -> bool:
    """A volunteer fits a need when a skill of theirs is one the need asks for, or is (or
    maps through the vocabulary to) the need's category, or the category is an interest."""
    mine = {s.strip().lower() for s in entry.skills}
    wanted = {s.strip().lower() for s in skills}
    return bool(mine & wanted) or category in skill_categories(mine) or category in entry.interests


def skill_fit(category: str, skills: Sequence[str], entry: RosterEntry) -> int:
    """How many of the need's wishes the volunteer meets (its category counts as one)."""
    mine = {s.strip().lower() for s in entry.skills}
    wanted = {s.strip().lower() for s in skills}
    return len(mine & wanted) + (category in skill_categories(mine))


def match_volunteers(
    need: NeedApproved,
    members: Mapping[str, RosterEntry],
    radius_km: float,
    cap: int,
    last_alerted: Mapping[str, datetime] | None = None,
    coarse_km: float = 0.0,
) -> list[Addressee]:
    """Volunteers of the need's community whose skills or interests match it, within
    `radius_km` when both locations are known (widened by `coarse_km`, the rounding of
    coarse coordinates), everyone matching otherwise. Over `cap`, who was alerted least
    recently goes first (never alerted first of all), then the nearest, then the best fit:
    over a campaign every matching volunteer is reached. No ordering by id."""
    last = last_alerted or {}
    found: list[tuple[tuple[float, float, int], Addressee]] = []
    for vid, entry in members.items():
        if not skill_matches(need.category, need.skills, entry):
            continue
        d: float | None = None
        if need.location is not None and entry.lat is not None and entry.lon is not None:
            d = distance_km(need.location.lat, need.location.lon, entry.lat, entry.lon)
            if d > radius_km + coarse_km:
                continue
        when = last.get(vid)
        key = (
            when.timestamp() if when is not None else float("-inf"),
            d if d is not None else radius_km + coarse_km,
            -skill_fit(need.category, need.skills, entry),
        )
        found.append((key, Addressee(vid, "match", d)))
    found.sort(key=lambda pair: pair[0])
    return [a for _, a in found[:cap]]


# --- on which channels ----------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    channel: ChannelName
    target: str
    subscription_id: str | None


def targets_for(
    addressee: Addressee,
    profile: Profile,
    event_type: str,
    community: str,
    category: str | None,
) -> list[Target]:
    """One target per channel: the in-app inbox of anyone addressed, plus the channels of their
    subscriptions that want this event (the oldest subscription of a channel wins)."""
    by_channel: dict[str, Target] = {}
    if addressee.reason != "subscriber":
        by_channel["inapp"] = Target("inapp", addressee.recipient_id, None)
    subs = sorted(profile.subscriptions.values(), key=lambda s: (s.created_at, s.id))
    for sub in subs:
        if addressee.reason == "subscriber" and sub.audience != "scope":
            continue
        if sub.channel in by_channel and by_channel[sub.channel].subscription_id is not None:
            continue
        if sub.wants(event_type, community, category):
            by_channel[sub.channel] = Target(sub.channel, sub.target, sub.id)
    allowed = set(profile.prefs.channels)
    return [t for c, t in sorted(by_channel.items()) if c in allowed]


def digest_targets(profile: Profile) -> list[Target]:
    """Where a digest goes: the inbox and the recipient's email and SMS subscriptions."""
    by_channel: dict[str, Target] = {"inapp": Target("inapp", profile.recipient_id, None)}
    for sub in sorted(profile.subscriptions.values(), key=lambda s: (s.created_at, s.id)):
        if sub.channel in INTERRUPTING_CHANNELS and sub.channel not in by_channel:
            by_channel[sub.channel] = Target(sub.channel, sub.target, sub.id)
    allowed = set(profile.prefs.channels)
    return [t for c, t in sorted(by_channel.items()) if c in allowed]


# --- when ---------------------------------------------------------------------------------

RouteMode = Literal["now", "held", "digest", "capped"]


class Route(BaseModel):
    """The decision, taken once per (event, recipient), of when they hear it.

    now: every channel now. held: quiet hours, email/SMS at `due_at`. digest: the recipient
    prefers a daily digest, email/SMS fold into it. capped: over today's cap of approved-need
    messages, everything but webhooks folds into the digest."""

    mode: RouteMode
    due_at: datetime
    period: str | None = None
    digest_due_at: datetime | None = None


def zone(prefs: Preferences, default_tz: str) -> ZoneInfo:
    return ZoneInfo(prefs.timezone or default_tz)


def local_day(now: datetime, prefs: Preferences, default_tz: str) -> str:
    return now.astimezone(zone(prefs, default_tz)).date().isoformat()


def digest_slot(
    now: datetime, prefs: Preferences, default_tz: str, default_hour: int
) -> tuple[str, datetime]:
    """The digest an item folded now goes into: (period, due time). The digest hour at least a
    minute ahead (so a digest being built never misses an item), moved past quiet hours."""
    tz = zone(prefs, default_tz)
    local = now.astimezone(tz)
    hour = prefs.digest_hour if prefs.digest_hour is not None else default_hour
    due = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if due <= local + timedelta(minutes=1):
        due += timedelta(days=1)
    period = due.date().isoformat()
    if prefs.quiet_hours is not None and prefs.quiet_hours.contains(due.timetz()):
        due = prefs.quiet_hours.end_after(due)
    return period, due.astimezone(now.tzinfo)


def decide_route(
    now: datetime, prefs: Preferences, default_tz: str, default_hour: int, over_cap: bool
) -> Route:
    if over_cap or prefs.digest:
        period, due = digest_slot(now, prefs, default_tz, default_hour)
        return Route(
            mode="capped" if over_cap else "digest", due_at=now, period=period, digest_due_at=due
        )
    local = now.astimezone(zone(prefs, default_tz))
    if prefs.quiet_hours is not None and prefs.quiet_hours.contains(local.timetz()):
        return Route(mode="held", due_at=prefs.quiet_hours.end_after(local).astimezone(now.tzinfo))
    return Route(mode="now", due_at=now)


ChannelPlan = Literal["send", "fold"]


def plan_channel(route: Route, channel: str, now: datetime) -> tuple[ChannelPlan, datetime]:
    """Whether a channel sends (and when) or folds into the digest, under a route."""
    if channel not in PEOPLE_CHANNELS:
        return "send", now
    if route.mode == "capped":
        return "fold", now
    if channel in INTERRUPTING_CHANNELS:
        if route.mode == "digest":
            return "fold", now
        if route.mode == "held":
            return "send", route.due_at
    return "send", now


def _unique(ids: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(i for i in ids if i))
