"""The figures of `GET /v1/stats`, computed from facts. No I/O.

Every figure is counted by the time written in the event itself (posted_at, claimed_at, ...),
so a window [from, to] means the same whatever order or how often the events arrived.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol

from services.metrics.domain import (
    CompletionFact,
    Fact,
    FactKind,
    NeedFact,
    NotificationFact,
    OrganizationFact,
    TeamFact,
    VolunteerFact,
)

DEFINITIONS = """\
Figures for the scope (an org path and everything below it) and the window: `from` and `to`
are calendar days (inclusive) in the deployment's time zone (`TONGXIN_TIMEZONE`,
default Asia/Shanghai); without them the window is open on that side. Each figure counts by
the time written in the event (`posted_at`, `claimed_at`, ...), never by arrival time, and
an event counts once however often it is delivered.

- `needs_posted`, `needs_approved`, `needs_rejected`, `needs_cancelled`: needs posted,
  approved (or posted straight into the project library), rejected, cancelled in the window.
- `claims`: claims made in the window, of any claimant type, released later or not;
  `team_claims` and `organization_claims` are its subsets; `claims_released` counts releases
  (by the claimer, an admin, or expiry) in the window.
- `needs_claimed`: needs that reached `claimed` (every slot taken) for the first time in
  the window.
- `tasks_completed`, `tasks_confirmed`: needs completed / completions confirmed in the window.
- `claim_rate` = (needs approved in the window that have reached `claimed` since) /
  `needs_approved`; `completion_rate` = (needs that reached `claimed` in the window and have
  been completed since) / `needs_claimed`. Both are fractions 0–1 of the same cohort, and
  **null** when the denominator is 0.
- `median_time_to_claim_s`: median seconds from approval to the first time every slot was
  taken, over `needs_claimed`; `median_time_to_complete_s`: median seconds from that moment
  to completion, over `tasks_completed`. Exact medians (mean of the two middle values for
  an even count); null when there is none.
- `volunteers_registered`, `teams`, `organizations`: volunteers reported in (by home
  community), volunteer service teams formed, enterprises / social organisations registered
  in the window.
- `beneficiaries_served`, `volunteer_hours` (decimal hours), `goods_count`, `funds_cents`
  (fen): sums of the verified figures (the newest revision) of completions recorded in the
  window; `pending_completions` and the `pending_*` sums are the declared figures of those
  not verified yet (awaiting the resident, under review or in dispute).
- `average_rating`: mean rating (1–5) of confirmations in the window; null when none.
- `volunteer_participation`: share of the volunteers registered by the window's end whose
  home is in the scope and who took part in a claim made, or a completion recorded, in the
  window (anywhere); null when none is registered.
- `on_time_rate`: share of `tasks_completed` completed by the need's `due_at` (a need
  without `due_at` counts as on time); null when none.
- `notifications_delivered`, `notifications_failed`: notifications about the scope's events.
- `pioneer_index` (先锋指数), 0–100. For a community (and a grid) it is
  100 × (0.25 completion_rate + 0.25 claim_rate + 0.20 volunteer_participation
  + 0.15 (average_rating − 1) / 4 + 0.15 on_time_rate), a null part counting as 0.
  For a street or a district it is the plain mean of the indices of the communities below
  it (each community counts once, active or not); null when it has none.
- `by_category`: the need figures (no volunteer figures, no index) per category slug, for
  the categories with any need activity in the window.
- `children`: the same figures for each org unit one level below the scope.
"""

PIONEER_WEIGHTS: dict[str, float] = {
    "completion_rate": 0.25,
    "claim_rate": 0.25,
    "volunteer_participation": 0.20,
    "average_rating": 0.15,
    "on_time_rate": 0.15,
}

LEVELS = {1: "district", 2: "street", 3: "community"}
COMMUNITY_DEPTH = 3

NEED_FIGURES = (
    "needs_posted",
    "needs_approved",
    "needs_rejected",
    "needs_cancelled",
    "claims",
    "team_claims",
    "organization_claims",
    "claims_released",
    "needs_claimed",
    "tasks_completed",
    "tasks_confirmed",
    "claim_rate",
    "completion_rate",
    "median_time_to_claim_s",
    "median_time_to_complete_s",
    "beneficiaries_served",
    "volunteer_hours",
    "goods_count",
    "funds_cents",
    "pending_completions",
    "pending_beneficiaries_served",
    "pending_volunteer_hours",
    "pending_goods_count",
    "pending_funds_cents",
    "average_rating",
    "on_time_rate",
)
DAILY_FIGURES = (
    "needs_posted",
    "needs_approved",
    "needs_rejected",
    "claims",
    "needs_claimed",
    "tasks_completed",
    "tasks_confirmed",
    "beneficiaries_served",
    "volunteer_hours",
    "volunteers_registered",
    "teams",
)


class FactSource(Protocol):
    """What the figures read: the facts, by kind and org path."""

    def under(self, kind: FactKind, scope: str) -> Iterable[Fact]:
        """Facts whose org path is the scope or below it."""

    def everywhere(self, kind: FactKind) -> Iterable[Fact]: ...

    def units_under(self, scope: str) -> Iterable[str]:
        """Every org path known at or below the scope (org units and facts' paths)."""

    def unit_name(self, path: str) -> str: ...


def depth(path: str) -> int:
    return path.count(".") + 1


def level_of(path: str) -> str:
    return LEVELS.get(depth(path), "grid")


def prefix(path: str, n: int) -> str:
    return ".".join(path.split(".")[:n])


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


@dataclass
class Tally:
    needs_posted: int = 0
    needs_approved: int = 0
    needs_rejected: int = 0
    needs_cancelled: int = 0
    claims: int = 0
    team_claims: int = 0
    organization_claims: int = 0
    claims_released: int = 0
    needs_claimed: int = 0
    tasks_completed: int = 0
    tasks_confirmed: int = 0
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
    volunteers_registered: int = 0
    volunteers_known: int = 0
    volunteers_active: int = 0
    teams: int = 0
    organizations: int = 0
    notifications_delivered: int = 0
    notifications_failed: int = 0

    def figures(self) -> dict[str, Any]:
        return {
            "needs_posted": self.needs_posted,
            "needs_approved": self.needs_approved,
            "needs_rejected": self.needs_rejected,
            "needs_cancelled": self.needs_cancelled,
            "claims": self.claims,
            "team_claims": self.team_claims,
            "organization_claims": self.organization_claims,
            "claims_released": self.claims_released,
            "needs_claimed": self.needs_claimed,
            "tasks_completed": self.tasks_completed,
            "tasks_confirmed": self.tasks_confirmed,
            "claim_rate": ratio(self.approved_then_claimed, self.needs_approved),
            "completion_rate": ratio(self.claimed_then_completed, self.needs_claimed),
            "median_time_to_claim_s": median(self.claim_seconds),
            "median_time_to_complete_s": median(self.complete_seconds),
            "volunteers_registered": self.volunteers_registered,
            "teams": self.teams,
            "organizations": self.organizations,
            "beneficiaries_served": self.beneficiaries_served,
            "volunteer_hours": round(math.fsum(self.hours), 4),
            "goods_count": self.goods_count,
            "funds_cents": self.funds_cents,
            **self.pending.figures(),
            "average_rating": ratio(sum(self.ratings), len(self.ratings)),
            "volunteer_participation": ratio(self.volunteers_active, self.volunteers_known),
            "on_time_rate": ratio(self.on_time, self.tasks_completed),
            "notifications_delivered": self.notifications_delivered,
            "notifications_failed": self.notifications_failed,
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
    """The community formula of DEFINITIONS; a null part counts as 0."""
    rating = figures["average_rating"]
    parts = {
        "completion_rate": figures["completion_rate"],
        "claim_rate": figures["claim_rate"],
        "volunteer_participation": figures["volunteer_participation"],
        "average_rating": None if rating is None else (rating - 1) / 4,
        "on_time_rate": figures["on_time_rate"],
    }
    return 100 * math.fsum(w * (parts[k] or 0.0) for k, w in PIONEER_WEIGHTS.items())


Pick = Callable[[datetime | None], Sequence[Tally]]


def add_need(need: NeedFact, pick: Pick) -> None:
    """Adds one need's figures to the tallies `pick` chooses for each of its times."""
    opened, filled, completed = need.opened_at, need.filled_at, need.completed_at
    for t in pick(need.posted_at):
        t.needs_posted += 1
    for t in pick(opened):
        t.needs_approved += 1
        t.approved_then_claimed += filled is not None
    for t in pick(need.rejected_at):
        t.needs_rejected += 1
    for t in pick(need.cancelled_at):
        t.needs_cancelled += 1
    for claim in need.claims.values():
        for t in pick(claim.claimed_at):
            t.claims += 1
            t.team_claims += claim.claimant_type == "team"
            t.organization_claims += claim.claimant_type == "organization"
        for t in pick(claim.released_at):
            t.claims_released += 1
    if filled is not None:
        start = opened or need.posted_at
        for t in pick(filled):
            t.needs_claimed += 1
            t.claimed_then_completed += completed is not None
            if start is not None:
                t.claim_seconds.append(max(0.0, (filled - start).total_seconds()))
    if completed is not None:
        for t in pick(completed):
            t.tasks_completed += 1
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
            t.tasks_confirmed += 1
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
        for t in route(team)(team.formed_at):
            t.teams += 1
    for org in src.under("organization", scope):
        assert isinstance(org, OrganizationFact)
        for t in route(org)(org.registered_at):
            t.organizations += 1
    for note in src.under("notification", scope):
        assert isinstance(note, NotificationFact)
        pick = route(note)
        for t in pick(note.delivered_at):
            t.notifications_delivered += 1
        for t in pick(note.failed_at):
            t.notifications_failed += 1


class ScopeTallies:
    """One pass over a scope's facts into tallies for the scope, each unit one level
    below it, each community below it, and each category."""

    def __init__(self, src: FactSource, scope: str, window: Window, active: set[str]) -> None:
        self.src, self.scope, self.window = src, scope, window
        self.units: dict[str, Tally] = defaultdict(Tally)
        self.categories: dict[str, Tally] = defaultdict(Tally)
        self._paths: dict[str, list[Tally]] = {}
        self.units[scope] = Tally()
        for need in src.under("need", scope):
            assert isinstance(need, NeedFact)
            tallies = [*self.tallies_of(need.community), self.categories[need.category]]
            add_need(need, self._picker(tallies))
        for vol in src.under("volunteer", scope):
            assert isinstance(vol, VolunteerFact)
            tallies = self.tallies_of(vol.community)
            registered = vol.registered_at in window
            known = window.reached(vol.registered_at)
            for t in tallies:
                t.volunteers_registered += registered
                t.volunteers_known += known
                t.volunteers_active += known and vol.id in active
        add_others(src, scope, lambda fact: self._picker(self.tallies_of(fact.community)))

    def _picker(self, tallies: list[Tally]) -> Pick:
        window = self.window
        return lambda t: tallies if t in window else ()

    def tallies_of(self, path: str) -> list[Tally]:
        """The scope's tally, its child's containing `path`, and its community's."""
        cached = self._paths.get(path)
        if cached is not None:
            return cached
        d, pd = depth(self.scope), depth(path)
        units = [self.scope]
        if pd > d:
            units.append(prefix(path, d + 1))
        if d < COMMUNITY_DEPTH <= pd:
            units.append(prefix(path, COMMUNITY_DEPTH))
        tallies = [self.units[u] for u in dict.fromkeys(units)]
        self._paths[path] = tallies
        return tallies

    def figures(self, unit: str) -> dict[str, Any]:
        return self.units.get(unit, Tally()).figures()

    def communities(self, unit: str) -> list[str]:
        if depth(unit) >= COMMUNITY_DEPTH:
            return [unit] if depth(unit) == COMMUNITY_DEPTH else []
        return sorted(
            {
                prefix(p, COMMUNITY_DEPTH)
                for p in self.src.units_under(unit)
                if depth(p) >= COMMUNITY_DEPTH
            }
        )

    def pioneer(self, unit: str) -> float | None:
        if depth(unit) >= COMMUNITY_DEPTH:
            return pioneer_index(self.figures(unit))
        indices = [pioneer_index(self.figures(c)) for c in self.communities(unit)]
        return math.fsum(indices) / len(indices) if indices else None

    def children(self) -> list[str]:
        d = depth(self.scope)
        return sorted({prefix(p, d + 1) for p in self.src.units_under(self.scope) if depth(p) > d})

    def unit(self, path: str) -> dict[str, Any]:
        return {
            "scope": path,
            "name": self.src.unit_name(path),
            "level": level_of(path),
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
        out[slug] = {k: figures[k] for k in NEED_FIGURES}
    return out


def scope_stats(src: FactSource, scope: str, window: Window, active: set[str]) -> dict[str, Any]:
    """The body of GET /v1/stats (without the window fields)."""
    tallies = ScopeTallies(src, scope, window, active)
    return {
        **tallies.unit(scope),
        "by_category": _by_category(tallies.categories),
        "children": [tallies.unit(child) for child in tallies.children()],
    }


def ranking(src: FactSource, scope: str, window: Window, active: set[str]) -> list[dict[str, Any]]:
    """The communities at or below the scope, best pioneer index first."""
    tallies = ScopeTallies(src, scope, window, active)
    rows = [tallies.unit(c) for c in tallies.communities(scope)]
    rows.sort(key=lambda r: (-(r["pioneer_index"] or 0.0), r["scope"]))
    return [{"rank": i + 1, **row} for i, row in enumerate(rows)]


def daily(src: FactSource, scope: str, first: date, last: date, tz: tzinfo) -> list[dict[str, Any]]:
    """Per calendar day of first..last: the flows of DAILY_FIGURES for the scope."""
    window = window_of(first, last, tz)
    days = {day: Tally() for day in days_of(first, last)}

    def pick(t: datetime | None) -> Sequence[Tally]:
        return (days[t.astimezone(tz).date()],) if t is not None and t in window else ()

    for need in src.under("need", scope):
        assert isinstance(need, NeedFact)
        add_need(need, pick)
    for vol in src.under("volunteer", scope):
        assert isinstance(vol, VolunteerFact)
        for t in pick(vol.registered_at):
            t.volunteers_registered += 1
    add_others(src, scope, lambda _: pick)
    rows = []
    for day, tally in days.items():
        figures = tally.figures()
        rows.append({"day": day.isoformat(), **{k: figures[k] for k in DAILY_FIGURES}})
    return rows
