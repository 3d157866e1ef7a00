"""Benchmark 5, memory: the peak RSS (VmHWM) of each service during benchmarks 1–3, beside
the peak of the baseline process of the same kind (raw consumer, bare FastAPI app)."""

from __future__ import annotations

from bench.common import MemoryLog
from bench.stats import Figure

# The baseline each service's peak is set against.
BASELINES = {
    "metrics": "raw consumer",
    "notify": "raw consumer",
    "volunteers": "raw consumer",
    "needs": "baseline app",
}


def figures(memory: MemoryLog) -> list[Figure]:
    rows = []
    for service, baseline in BASELINES.items():
        ours = memory.peak(service)
        if ours is None:
            continue
        base = memory.peak(baseline, ours=False)
        benches = sorted({b for b, p, o, _ in memory.peaks if p == service and o})
        rows.append(
            Figure(
                "memory",
                f"5. peak RSS · {service}",
                "MiB",
                ours_value=ours / 1024,
                baseline_value=base / 1024 if base else None,
                note=f"highest VmHWM over {', '.join(benches)}; baseline: {baseline}",
            )
        )
    return rows
