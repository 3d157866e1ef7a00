"""Medians, percentiles, ratios against a same-run baseline, and the results table. No I/O."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["ok", "partial", "not available yet", "failed"]


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100), linear between the two nearest ranks."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def ratio(ours: float | None, baseline: float | None) -> float | None:
    """ours / baseline; None when either is missing or the baseline is zero."""
    if ours is None or baseline is None or baseline == 0:
        return None
    return ours / baseline


def rate_from_samples(
    samples: Sequence[tuple[float, float]], start: float, target: float
) -> float | None:
    """Events per second from (time, cumulative count) polls taken while a consumer worked
    from `start` to `target`.

    The slope between the first and the last poll strictly inside the window does not
    depend on how finely the polls cut the window's edges; with fewer than two polls inside
    it, the whole window is bounded by the last poll before work began and the first poll
    at or past the target.
    """
    inside = [(t, c) for t, c in samples if start < c < target]
    if len(inside) >= 2 and inside[-1][0] > inside[0][0] and inside[-1][1] > inside[0][1]:
        (t0, c0), (t1, c1) = inside[0], inside[-1]
        return (c1 - c0) / (t1 - t0)
    before = [t for t, c in samples if c <= start]
    done = [(t, c) for t, c in samples if c >= target]
    if not before or not done:
        return None
    (t_done, c_done), t_start = done[0], before[-1]
    return (c_done - start) / (t_done - t_start) if t_done > t_start else None


@dataclass(frozen=True)
class Goal:
    """What a figure must reach: bounds on the ratio, or on ours alone (then said so)."""

    text: str
    min_ratio: float | None = None
    max_ratio: float | None = None
    max_ours: float | None = None

    def met(self, ours: float | None, r: float | None) -> bool | None:
        if self.max_ours is not None:
            return None if ours is None else ours <= self.max_ours
        if r is None:
            return None
        if self.min_ratio is not None and r < self.min_ratio:
            return False
        return not (self.max_ratio is not None and r > self.max_ratio)


@dataclass
class Figure:
    """One row of the table: our path against the baseline measured beside it."""

    bench: str
    name: str
    unit: str
    ours_runs: list[float] = field(default_factory=list)
    baseline_runs: list[float] = field(default_factory=list)
    goal: Goal | None = None
    note: str = ""
    status: Status = "ok"
    # Figures with no run of their own (a median computed elsewhere, a ratio of ratios).
    ours_value: float | None = None
    baseline_value: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ours(self) -> float | None:
        return self.ours_value if self.ours_value is not None else median(self.ours_runs)

    @property
    def baseline(self) -> float | None:
        if self.baseline_value is not None:
            return self.baseline_value
        return median(self.baseline_runs)

    @property
    def ratio(self) -> float | None:
        return ratio(self.ours, self.baseline)

    @property
    def met(self) -> bool | None:
        if self.goal is None or self.status in ("not available yet", "failed"):
            return None
        return self.goal.met(self.ours, self.ratio)

    def as_dict(self) -> dict[str, Any]:
        return {
            "bench": self.bench,
            "figure": self.name,
            "unit": self.unit,
            "ours": self.ours,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "goal": self.goal.text if self.goal else None,
            "met": self.met,
            "status": self.status,
            "note": self.note,
            "runs": {"ours": self.ours_runs, "baseline": self.baseline_runs},
            **({"extra": self.extra} if self.extra else {}),
        }


def unavailable(bench: str, name: str, unit: str, why: str, goal: Goal | None = None) -> Figure:
    return Figure(bench, name, unit, goal=goal, status="not available yet", note=why)


def format_value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit in ("events/s", "req/s", "msg/s"):
        return f"{value:,.0f} {unit}"
    if unit == "ms":
        return f"{value:.1f} ms"
    if unit == "s":
        return f"{value:.2f} s"
    if unit == "MiB":
        return f"{value:.0f} MiB"
    if unit == "ratio":
        return format_ratio(value)
    return f"{value:g} {unit}".strip()


def format_ratio(r: float | None) -> str:
    if r is None:
        return "—"
    if r >= 10:
        return f"{r:,.0f}"
    return f"{r:.3f}" if r >= 0.1 else f"{r:.2g}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_table(figures: Sequence[Figure]) -> str:
    """The markdown table: figure, ours, baseline, ratio (ours/baseline), goal."""
    lines = [
        "| figure | ours | baseline | ratio | goal |",
        "|---|---:|---:|---:|---|",
    ]
    for f in figures:
        if f.status == "not available yet":
            lines.append(
                f"| {_cell(f.name)} | not available yet | — | — | "
                f"{_cell(f.goal.text if f.goal else '—')} |"
            )
            continue
        met = {True: " ✓", False: " ✗", None: ""}[f.met]
        goal = (f.goal.text if f.goal else "—") + met
        name = f.name if f.status == "ok" else f"{f.name} ({f.status})"
        lines.append(
            f"| {_cell(name)} | {format_value(f.ours, f.unit)} | "
            f"{format_value(f.baseline, f.unit)} | {format_ratio(f.ratio)} | {_cell(goal)} |"
        )
    return "\n".join(lines)


def render_notes(figures: Sequence[Figure]) -> str:
    notes = [f"- {f.name}: {f.note}" for f in figures if f.note]
    return "\n".join(notes)
