"""The lists behind the counts: the needs, claims, completions, volunteers or teams a count figure
counts, with the same scope, window and definition. No I/O.

Each list reads the same `need_counts` / `volunteer_counts` / `backlog` the tally adds up, so
its length is the count. Rows carry no personal data: ids, places, categories, times, and
a volunteer's name masked to its first character.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.metrics.domain import catalogue
from services.metrics.domain.facts import NeedFact, TeamFact, VolunteerFact
from services.metrics.domain.figures import (
    FactSource,
    Window,
    backlog,
    need_counts,
    team_counts,
    volunteer_counts,
)


def stage(need: NeedFact) -> str:
    """Where the need stands as far as the facts tell."""
    if need.cancelled_at:
        return "cancelled"
    if need.rejected_at:
        return "rejected"
    if any(c.confirmed_at for c in need.completions.values()):
        return "confirmed"
    if need.completed_at:
        return "completed"
    if any(c.claimed_at and not c.released_at for c in need.claims.values()):
        return "claimed"
    return "open" if need.opened_at else "pending_review"


def _iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None


def rows_behind(
    src: FactSource,
    figure: str,
    scope: str,
    window: Window,
    active: set[str],
    now: datetime,
    category: str | None = None,
) -> list[dict[str, Any]]:
    """The rows a count figure counts, newest first. `figure` must be in catalogue.LISTED."""
    spec = catalogue.BY_NAME[figure]
    if spec.rows == "volunteers":
        return _volunteers(src, figure, scope, window, active)
    if spec.rows == "teams":
        return _teams(src, scope, window)
    rows: list[dict[str, Any]] = []
    for need in src.under("need", scope):
        assert isinstance(need, NeedFact)
        if category is not None and need.category != category:
            continue
        hits: list[tuple[datetime | None, str]] = []
        if spec.group == "backlog":
            hits = [(now, "")] if backlog(need, now) == figure else []
        else:
            hits = [(at, k) for name, at, k in need_counts(need) if name == figure and at in window]
        for at, key in hits:
            rows.append(
                {
                    "need_id": need.id,
                    "item_id": key or None,
                    "community": need.community,
                    "community_name": src.unit_name(need.community),
                    "category": need.category,
                    "stage": stage(need),
                    "posted_at": _iso(need.posted_at),
                    "due_at": _iso(need.due_at),
                    "at": None if spec.group == "backlog" else _iso(at),
                }
            )
    rows.sort(key=lambda r: (r["at"] or r["posted_at"] or "", r["need_id"]), reverse=True)
    return rows


def _volunteers(
    src: FactSource, figure: str, scope: str, window: Window, active: set[str]
) -> list[dict[str, Any]]:
    rows = []
    for vol in src.under("volunteer", scope):
        assert isinstance(vol, VolunteerFact)
        if figure == "volunteers_active":
            hit = window.reached(vol.registered_at) and vol.id in active
        else:
            hit = any(n == figure and at in window for n, at, _ in volunteer_counts(vol))
        if hit:
            rows.append(
                {
                    "volunteer_id": vol.id,
                    "name": vol.name_masked,
                    "community": vol.community,
                    "community_name": src.unit_name(vol.community),
                    "party_member": vol.party_org,
                    "registered_at": _iso(vol.registered_at),
                }
            )
    rows.sort(key=lambda r: (r["registered_at"] or "", r["volunteer_id"]), reverse=True)
    return rows


def _teams(src: FactSource, scope: str, window: Window) -> list[dict[str, Any]]:
    rows = []
    for team in src.under("team", scope):
        assert isinstance(team, TeamFact)
        if any(at in window for _, at, _ in team_counts(team)):
            rows.append(
                {
                    "team_id": team.id,
                    "name": team.name,
                    "service_type": team.service_type,
                    "members": len(team.members),
                    "community": team.community,
                    "community_name": src.unit_name(team.community),
                    "formed_at": _iso(team.formed_at),
                }
            )
    rows.sort(key=lambda r: (r["formed_at"] or "", r["team_id"]), reverse=True)
    return rows
