"""Benchmark 4, cost growth: benchmarks 1 and 2 again with many more needs and volunteers
stored. What must hold: each ratio at the larger size within 10% of its ratio at the
smaller one (FerretDB scans every non-`_id` filter in Go, so a hot path that filters on
anything else slows down with the data)."""

from __future__ import annotations

from dataclasses import replace

from bench import http_writes, pipeline
from bench.common import BenchConfig
from bench.stats import Figure, Goal

GOAL = Goal("≥ 0.9 (within 10%)", min_ratio=0.9)


def _size(n: int) -> str:
    return f"{n // 1000:,}k" if n >= 1000 else str(n)


def compare(
    cfg: BenchConfig,
    small: tuple[pipeline.PipelineResult | None, http_writes.HttpResult | None],
    large: tuple[pipeline.PipelineResult | None, http_writes.HttpResult | None],
) -> list[Figure]:
    """One row per figure: ratio at the large size (ours) against the small (baseline)."""
    lo, hi = cfg.sizes
    label = f"4. growth {_size(lo)}→{_size(hi)} · "
    pairs: list[tuple[str, float | None, float | None]] = []
    if small[0] and large[0]:
        for c in pipeline.CONSUMERS:
            pairs.append((c.label, large[0].ratios.get(c.label), small[0].ratios.get(c.label)))
    if small[1] and large[1]:
        pairs.append(("HTTP POST /v1/needs", large[1].ratio, small[1].ratio))
    return [growth_row(cfg, label + name, at_large, at_small) for name, at_large, at_small in pairs]


def growth_row(
    cfg: BenchConfig, name: str, at_large: float | None, at_small: float | None
) -> Figure:
    """The ratio at the large size (ours) against the ratio at the small one (baseline)."""
    lo, hi = cfg.sizes
    figure = Figure(
        "growth",
        name,
        "ratio",
        goal=GOAL,
        ours_value=at_large,
        baseline_value=at_small,
        note=f"ours = ratio with {hi:,} stored, baseline = ratio with {lo:,} stored",
    )
    if at_large is None or at_small is None:
        figure.status = "not available yet"
        figure.note = "a ratio is missing at one of the sizes"
    return figure


async def run_notify(cfg: BenchConfig) -> list[Figure]:
    """The notify fan-out row alone, at both sizes in one run, and how its ratio grew: what
    issue 12 asks of notify, without the rest of benchmarks 1, 2 and 4."""
    consumer = next(c for c in pipeline.CONSUMERS if c.service == "notify")
    lo, hi = cfg.sizes
    rates: list[float] = []
    small = await pipeline.run_consumer(cfg, consumer, lo, rates, f"notify · {_size(lo)} stored")
    large_cfg = replace(cfg, rounds=cfg.growth_rounds)
    large = await pipeline.run_consumer(
        large_cfg, consumer, hi, rates, f"notify · {_size(hi)} stored"
    )
    row = growth_row(
        cfg, f"notify growth {_size(lo)}→{_size(hi)} · {consumer.label}", large.ratio, small.ratio
    )
    return [small, large, row]


async def run_large(
    cfg: BenchConfig, with_pipeline: bool = True, with_http: bool = True
) -> tuple[pipeline.PipelineResult | None, http_writes.HttpResult | None]:
    large_cfg = replace(cfg, rounds=cfg.growth_rounds)
    stored = cfg.sizes[1]
    at = f"4. with {_size(stored)} stored"
    p = await pipeline.run(large_cfg, stored, f"{at} · pipeline") if with_pipeline else None
    h = await http_writes.run(large_cfg, stored, f"{at} · HTTP") if with_http else None
    return p, h
