"""The figures of `GET /v1/stats`, computed from facts. No I/O.

Every figure is counted by the time written in the event itself (posted_at, claimed_at, ...),
so a window [from, to] means the same whatever order or how often the events arrived.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, NamedTuple, Protocol

from services.metrics.domain import catalogue
from services.metrics.domain.facts import (
    CompletionFact,
    Fact,
    FactKind,
    NeedFact,
    NotificationFact,
    OrganizationFact,
    TeamFact,
    VolunteerFact,
)
from shared.orgpath import COMMUNITY_DEPTH, OrgPath

DEFINITIONS = f"""\
Figures for the scope (an org path and everything below it) and the window: `from` and `to`
are calendar days (inclusive) in the deployment's time zone (`TONGXIN_TIMEZONE`,
default Asia/Shanghai); without them the window is open on that side. Each figure counts by
the time written in the event (`posted_at`, `claimed_at`, ...), never by arrival time, and
an event counts once however often it is delivered. `by_category` gives the need figures
per category slug (categories with any need activity in the window); `children` the same
figures for each org unit one level below the scope; `ancestors` the units above the scope
(for a breadcrumb). Names, labels and units of every figure: `GET /v1/figures`.

{catalogue.definitions()}
"""

PENDING_REVIEW = timedelta(days=catalogue.PENDING_REVIEW_DAYS)


class FactSource(Protocol):
    """What the figures read: the facts, by kind and org path."""

    def under(self, kind: FactKind, scope: str) -> Iterable[Fact]:
        """Facts whose org path is the scope or below it."""

    def everywhere(self, kind: FactKind) -> Iterable[Fact]: ...

    def units_under(self, scope: str) -> Iterable[str]:
        """Every org path known at or below the scope (org units and facts' paths)."""

    def unit_name(self, path: str) -> str: ...


@dataclass(frozen=True)
class Window:
    start: datetime | None = None  # inclusive
    end: datetime | None = None  # exclusive

    def __contains__(self, t: object) -> bool:
        if not isinstance(t, datetime):
            return False
        return (self.start is None or t >= self.start) and (self.end is None or t < self.end)

    def reached(self, t: datetime | None) -> bool:
        """True for a time before the window's end."""
        return t is not None and (self.end is None or t < self.end)


def window_of(first: date | None, last: date | None, tz: tzinfo) -> Window:
    """Calendar days first..last (inclusive) in the time zone; None leaves a side open."""
    start = datetime.combine(first, time(), tz) if first else None
    end = datetime.combine(last + timedelta(days=1), time(), tz) if last else None
    return Window(start, end)


def days_of(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


Count = tuple[str, datetime | None, str]  # (figure, when it happened, claim/completion id)


class Times(NamedTuple):
    """A need's derived moments, worked out once per need and pass."""

    opened: datetime | None
    filled: datetime | None
    completed: datetime | None


def times_of(need: NeedFact) -> Times:
    return Times(need.opened_at, need.filled_at, need.completed_at)


def need_counts(need: NeedFact, times: Times | None = None) -> list[Count]:
    """Every count figure a need adds one to, with the time that decides the window. The
    tally and the lists behind the figures both read this, so a list is as long as its count."""
    opened, filled, completed = times or times_of(need)
    out: list[Count] = [
        ("needs_posted", need.posted_at, ""),
        ("needs_approved", opened, ""),
        ("needs_rejected", need.rejected_at, ""),
        ("needs_cancelled", need.cancelled_at, ""),
        ("needs_claimed", filled, ""),
        ("tasks_completed", completed, ""),
    ]
    for claim_id, claim in need.claims.items():
        out.append(("claims", claim.claimed_at, claim_id))
        if claim.claimant_type != "volunteer":
            out.append((f"{claim.claimant_type}_claims", claim.claimed_at, claim_id))
        out.append(("claims_released", claim.released_at, claim_id))
    for completion_id, done in need.completions.items():
        out.append(("tasks_confirmed", done.confirmed_at, completion_id))
    return out


def volunteer_counts(vol: VolunteerFact) -> Iterator[Count]:
    yield "volunteers_registered", vol.registered_at, ""
    if vol.party_org:
        yield "party_members_registered", vol.registered_at, ""


def team_counts(team: TeamFact) -> Iterator[Count]:
    yield "teams", team.formed_at, ""


def backlog(need: NeedFact, now: datetime, times: Times | None = None) -> str | None:
    """The backlog figure the need is in at `now` (a state, not a flow), if any."""
    if need.cancelled_at is not None or need.rejected_at is not None:
        return None
    opened, _, completed = times or times_of(need)
    if completed is not None:
        confirmed = any(c.confirmed_at for c in need.completions.values())
        return None if confirmed else "completed_unconfirmed"
    if opened is None:
        waited = need.posted_at is not None and now - need.posted_at > PENDING_REVIEW
        return "pending_review_over_3d" if waited else None
    if need.due_at is None or need.due_at >= now:
        return None
    held = any(c.claimed_at is not None and c.released_at is None for c in need.claims.values())
    return "claimed_overdue" if held else None


@dataclass
class Tally:
    counts: dict[str, int] = field(default_factory=dict)  # the count figures
    approved_then_claimed: int = 0
    claimed_then_completed: int = 0
    on_time: int = 0
    claim_seconds: list[float] = field(default_factory=list)
    complete_seconds: list[float] = field(default_factory=list)
    beneficiaries_served: int = 0
    hours: list[float] = field(default_factory=list)
    goods_count: int = 0
    funds_cents: int = 0
    pending: Pending = field(default_factory=lambda: Pending())
    ratings: list[int] = field(default_factory=list)
    volunteers_known: int = 0

    def add(self, name: str, n: int = 1) -> None:
        if n:
            self.counts[name] = self.counts.get(name, 0) + n

    def figures(self) -> dict[str, Any]:
        """Every figure of the catalogue but the pioneer index (which needs the units below)."""
        c = self.counts
        derived = {
            "claim_rate": ratio(self.approved_then_claimed, c.get("needs_approved", 0)),
            "completion_rate": ratio(self.claimed_then_completed, c.get("needs_claimed", 0)),
            "median_time_to_claim_s": median(self.claim_seconds),
            "median_time_to_complete_s": median(self.complete_seconds),
            "beneficiaries_served": self.beneficiaries_served,
            "volunteer_hours": round(math.fsum(self.hours), 4),
            "goods_count": self.goods_count,
            "funds_cents": self.funds_cents,
            **self.pending.figures(),
            "average_rating": ratio(sum(self.ratings), len(self.ratings)),
            "volunteer_participation": ratio(c.get("volunteers_active", 0), self.volunteers_known),
            "on_time_rate": ratio(self.on_time, c.get("tasks_completed", 0)),
        }
        return {
            name: derived[name] if name in derived else c.get(name, 0)
            for name in catalogue.UNIT_FIGURES
            if name != "pioneer_index"
        }


@dataclass
class Pending:
    """Declared figures of completions not verified yet: shown apart, never in the sums."""

    completions: int = 0
    beneficiaries_served: int = 0
    hours: list[float] = field(default_factory=list)
    goods_count: int = 0
    funds_cents: int = 0

    def add(self, done: CompletionFact) -> None:
        self.completions += 1
        self.beneficiaries_served += done.beneficiaries_served
        self.hours.extend(h.hours for h in done.hours)
        self.goods_count += done.goods_count
        self.funds_cents += done.funds_cents

    def figures(self) -> dict[str, Any]:
        return {
            "pending_completions": self.completions,
            "pending_beneficiaries_served": self.beneficiaries_served,
            "pending_volunteer_hours": round(math.fsum(self.hours), 4),
            "pending_goods_count": self.goods_count,
            "pending_funds_cents": self.funds_cents,
        }


def ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def median(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def pioneer_index(figures: dict[str, Any]) -> float:
    """The community formula of the catalogue; a null part counts as 0."""
    rating = figures["average_rating"]
    active = figures["volunteers_active"] or 0
    parts = {
        "completion_rate": figures["completion_rate"],
        "claim_rate": figures["claim_rate"],
        "participation": min(1.0, active / catalogue.ACTIVE_VOLUNTEERS_NORM),
        "average_rating": None if rating is None else (rating - 1) / 4,
        "on_time_rate": figures["on_time_rate"],
    }
    weights = catalogue.PIONEER_WEIGHTS
    return 100 * math.fsum(w * (parts[k] or 0.0) for k, w in weights.items())


Pick = Callable[[datetime | None], Sequence[Tally]]


def add_need(need: NeedFact, pick: Pick, times: Times | None = None) -> None:
    """Adds one need's figures to the tallies `pick` chooses for each of its times."""
    times = times or times_of(need)
    for name, at, _ in need_counts(need, times):
        if at is not None:
            for t in pick(at):
                t.counts[name] = t.counts.get(name, 0) + 1
    opened, filled, completed = times
    for t in pick(opened):
        t.approved_then_claimed += filled is not None
    if filled is not None:
        start = opened or need.posted_at
        for t in pick(filled):
            t.claimed_then_completed += completed is not None
            if start is not None:
                t.claim_seconds.append(max(0.0, (filled - start).total_seconds()))
    if completed is not None:
        for t in pick(completed):
            t.on_time += need.due_at is None or completed <= need.due_at
            if filled is not None:
                t.complete_seconds.append(max(0.0, (completed - filled).total_seconds()))
    for done in need.completions.values():
        for t in pick(done.completed_at):
            counted = done.counted()
            if counted is None:
                t.pending.add(done)
                continue
            t.beneficiaries_served += counted.beneficiaries_served
            t.hours.extend(h.hours for h in counted.hours)
            t.goods_count += counted.goods_count
            t.funds_cents += counted.funds_cents
        for t in pick(done.confirmed_at):
            if done.rating is not None:
                t.ratings.append(done.rating)


def active_volunteers(src: FactSource, window: Window) -> set[str]:
    """Volunteers in a claim made, or a completion recorded, in the window (anywhere)."""
    active: set[str] = set()
    for fact in src.everywhere("need"):
        assert isinstance(fact, NeedFact)
        for claim in fact.claims.values():
            if claim.claimed_at in window:
                active.update(claim.volunteer_ids)
        for done in fact.completions.values():
            if done.completed_at in window:
                active.update(h.volunteer_id for h in done.hours)
    return active


def add_others(src: FactSource, scope: str, route: Callable[[Fact], Pick]) -> None:
    """Teams, organisations and notifications of the scope, by their own times."""
    for team in src.under("team", scope):
        assert isinstance(team, TeamFact)
        pick = route(team)
        for name, at, _ in team_counts(team):
            for t in pick(at):
                t.add(name)
    for org in src.under("organization", scope):
        assert isinstance(org, OrganizationFact)
        for t in route(org)(org.registered_at):
            t.add("organizations")
    for note in src.under("notification", scope):
        assert isinstance(note, NotificationFact)
        pick = route(note)
        for t in pick(note.delivered_at):
            t.add("notifications_delivered")
        for t in pick(note.failed_at):
            t.add("notifications_failed")


class ScopeTallies:
    """One pass over a scope's facts into tallies for the scope, each unit one level
    below it, each community below it, and each category."""

    def __init__(
        self, src: FactSource, scope: str, window: Window, active: set[str], now: datetime
    ) -> None:
        self.src, self.scope, self.window = src, scope, window
        self.units: dict[str, Tally] = defaultdict(Tally)
        self.categories: dict[str, Tally] = defaultdict(Tally)
        self._paths: dict[str, list[Tally]] = {}
        self.units[scope] = Tally()
        for need in src.under("need", scope):
            assert isinstance(need, NeedFact)
            units = self.tallies_of(need.community)
            times = times_of(need)
            add_need(need, self._picker([*units, self.categories[need.category]]), times)
            state = backlog(need, now, times)
            if state is not None:
                for t in units:
                    t.add(state)
        for vol in src.under("volunteer", scope):
            assert isinstance(vol, VolunteerFact)
            tallies = self.tallies_of(vol.community)
            pick = self._picker(tallies)
            for name, at, _ in volunteer_counts(vol):
                for t in pick(at):
                    t.add(name)
            known = window.reached(vol.registered_at)
            for t in tallies:
                t.volunteers_known += known
                t.add("volunteers_active", known and vol.id in active)
        add_others(src, scope, lambda fact: self._picker(self.tallies_of(fact.community)))

    def _picker(self, tallies: list[Tally]) -> Pick:
        window = self.window
        return lambda t: tallies if t in window else ()

    def tallies_of(self, path: str) -> list[Tally]:
        """The scope's tally, its child's containing `path`, and its community's."""
        cached = self._paths.get(path)
        if cached is not None:
            return cached
        at = OrgPath(path)
        d, pd = OrgPath(self.scope).depth, at.depth
        units = [self.scope]
        if pd > d:
            units.append(at.upto(d + 1))
        if d < COMMUNITY_DEPTH <= pd:
            units.append(at.upto(COMMUNITY_DEPTH))
        tallies = [self.units[u] for u in dict.fromkeys(units)]
        self._paths[path] = tallies
        return tallies

    def figures(self, unit: str) -> dict[str, Any]:
        return self.units.get(unit, Tally()).figures()

    def communities(self, unit: str) -> list[str]:
        if OrgPath(unit).depth >= COMMUNITY_DEPTH:
            return [unit] if OrgPath(unit).depth == COMMUNITY_DEPTH else []
        below = (OrgPath(p) for p in self.src.units_under(unit))
        return sorted({p.upto(COMMUNITY_DEPTH) for p in below if p.depth >= COMMUNITY_DEPTH})

    def pioneer(self, unit: str) -> float | None:
        if OrgPath(unit).depth >= COMMUNITY_DEPTH:
            return pioneer_index(self.figures(unit))
        indices = [pioneer_index(self.figures(c)) for c in self.communities(unit)]
        return math.fsum(indices) / len(indices) if indices else None

    def children(self) -> list[str]:
        d = OrgPath(self.scope).depth
        below = (OrgPath(p) for p in self.src.units_under(self.scope))
        return sorted({p.upto(d + 1) for p in below if p.depth > d})

    def ancestors(self) -> list[dict[str, str]]:
        """The units above the scope, top first, with their names."""
        parts = self.scope.split(".")
        paths = [".".join(parts[:i]) for i in range(1, len(parts))]
        return [{"scope": p, "name": self.src.unit_name(p)} for p in paths]

    def unit(self, path: str) -> dict[str, Any]:
        return {
            "scope": path,
            "name": self.src.unit_name(path),
            "level": OrgPath(path).level,
            **self.figures(path),
            "pioneer_index": self.pioneer(path),
        }


def _by_category(tallies: dict[str, Tally]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for slug in sorted(tallies):
        tally = tallies[slug]
        if tally == Tally():
            continue
        figures = tally.figures()
        out[slug] = {k: figures[k] for k in catalogue.NEED_FIGURES}
    return out


def scope_stats(
    src: FactSource, scope: str, window: Window, active: set[str], now: datetime
) -> dict[str, Any]:
    """The body of GET /v1/stats (without the window fields)."""
    tallies = ScopeTallies(src, scope, window, active, now)
    return {
        **tallies.unit(scope),
        "ancestors": tallies.ancestors(),
        "by_category": _by_category(tallies.categories),
        "children": [tallies.unit(child) for child in tallies.children()],
    }


def ranking(
    src: FactSource, scope: str, window: Window, active: set[str], now: datetime
) -> list[dict[str, Any]]:
    """The communities at or below the scope, best pioneer index first."""
    tallies = ScopeTallies(src, scope, window, active, now)
    rows = [tallies.unit(c) for c in tallies.communities(scope)]
    rows.sort(key=lambda r: (-(r["pioneer_index"] or 0.0), r["scope"]))
    return [{"rank": i + 1, **row} for i, row in enumerate(rows)]


def daily(src: FactSource, scope: str, first: date, last: date, tz: tzinfo) -> list[dict[str, Any]]:
    """Per calendar day of first..last: the catalogue's daily flows for the scope."""
    window = window_of(first, last, tz)
    days = {day: Tally() for day in days_of(first, last)}

    def pick(t: datetime | None) -> Sequence[Tally]:
        return (days[t.astimezone(tz).date()],) if t is not None and t in window else ()

    for need in src.under("need", scope):
        assert isinstance(need, NeedFact)
        add_need(need, pick)
    for vol in src.under("volunteer", scope):
        assert isinstance(vol, VolunteerFact)
        for name, at, _ in volunteer_counts(vol):
            for t in pick(at):
                t.add(name)
    add_others(src, scope, lambda _: pick)
    rows = []
    for day, tally in days.items():
        figures = tally.figures()
        rows.append({"day": day.isoformat(), **{k: figures[k] for k in catalogue.DAILY_FIGURES}})
    return rows
