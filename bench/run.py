"""`make bench`: runs the benchmarks, writes bench/results.json and bench/results.md, prints
the table. Every figure is ours against a baseline measured beside it in the same run.

    python -m bench.run [--quick] [--only pipeline,http,e2e,growth,memory,notify] [--rounds N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import end_to_end, growth, http_writes, memory, pipeline
from bench.common import BenchConfig
from bench.procs import pin_self_to_load_cpu
from bench.stats import Figure, render_notes, render_table
from bench.wrk import ensure_wrk
from shared.settings import Settings

BENCHES = ("pipeline", "http", "e2e", "growth", "memory", "notify")
# `notify` is the notify row of 1 and 4 alone (both sizes): a full run has it already.
DEFAULT = ("pipeline", "http", "e2e", "growth", "memory")
HERE = Path(__file__).parent
ROOT = HERE.parent


def _reachable(address: str, default_port: int) -> bool:
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host or "localhost", int(port or default_port)), 2):
            return True
    except (OSError, ValueError):
        return False


def _check_infrastructure() -> str | None:
    s = Settings()
    mongo = s.mongodb_url.split("://", 1)[-1].split("/", 1)[0].split(",")[0]
    missing = [
        name
        for name, ok in (
            ("Kafka", _reachable(s.kafka_bootstrap.split(",")[0], 9092)),
            ("MongoDB/FerretDB", _reachable(mongo.rpartition("@")[2], 27017)),
        )
        if not ok
    ]
    return f"{' and '.join(missing)} not reachable: run `make infra-up`" if missing else None


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer rounds, smaller sizes")
    parser.add_argument(
        "--only", default=",".join(DEFAULT), help=f"comma-separated subset of {','.join(BENCHES)}"
    )
    parser.add_argument("--rounds", type=int, help="rounds per figure (default 5, quick 2)")
    parser.add_argument("--out", type=Path, default=HERE, help="where results.* go")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy profiles of each service in an extra round (needs py-spy in the venv)",
    )
    args = parser.parse_args(argv)
    args.only = [b.strip() for b in args.only.split(",") if b.strip()]
    unknown = set(args.only) - set(BENCHES)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    return args


def _machine() -> dict[str, Any]:
    return {
        "host": platform.node(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    cfg = BenchConfig.make(args.quick, ROOT / "var" / "bench" / stamp, args.rounds)
    cfg.profile = args.profile
    only = set(args.only)
    if only == {"memory"}:  # memory is measured during benchmarks 1-3
        only |= {"pipeline", "http", "e2e"}
    pinning = pin_self_to_load_cpu()
    print(f"bench: {'quick' if cfg.quick else 'full'} run of {', '.join(sorted(only))}")
    print(f"bench: {pinning}; logs in {cfg.log_dir}")
    figures: list[Figure] = []
    timings: dict[str, float] = {}
    small_p: pipeline.PipelineResult | None = None
    small_h: http_writes.HttpResult | None = None

    async def timed(name: str, coro: Any) -> Any:
        print(f"bench: {name} …", flush=True)
        started = time.monotonic()
        result = await coro
        timings[name] = round(time.monotonic() - started, 1)
        print(f"bench: {name} done in {timings[name]:.0f} s", flush=True)
        return result

    lo = cfg.sizes[0]
    if "pipeline" in only or "growth" in only:
        small_p = await timed(f"1. pipeline ({lo:,} stored)", pipeline.run(cfg, lo))
        if "pipeline" in only:
            figures += small_p.figures
    if "http" in only or "growth" in only:
        ensure_wrk()
        small_h = await timed(f"2. http ({lo:,} stored)", http_writes.run(cfg, lo))
        if "http" in only:
            figures += small_h.figures
    if "e2e" in only:
        figures += await timed("3. end to end", end_to_end.run(cfg))
    if "growth" in only:
        large = await timed(f"4. growth ({cfg.sizes[1]:,} stored)", growth.run_large(cfg))
        figures += growth.compare(cfg, (small_p, small_h), large)
        figures += [f for result in large if result for f in result.figures]
    if "notify" in only:
        sizes = " and ".join(f"{n:,}" for n in cfg.sizes)
        figures += await timed(f"notify fan-out ({sizes} stored)", growth.run_notify(cfg))
    if "memory" in only:
        figures += memory.figures(cfg.memory)
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "mode": "quick" if cfg.quick else "full",
        "rounds": cfg.rounds,
        "pinning": pinning,
        "machine": _machine(),
        "seconds": timings,
        "figures": [f.as_dict() for f in figures],
        "table": render_table(figures),
        "notes": render_notes(figures),
        "profiles": "\n\n".join(p.render() for p in cfg.profiles),
    }


def write(results: dict[str, Any], out: Path) -> str:
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    header = (
        f"Tongxin benchmarks, {results['mode']} run, {results['generated_at'][:19]}Z; "
        f"median of {results['rounds']} alternating rounds; ratio = ours / baseline "
        f"(for times and memory, lower is better). {results['pinning']}."
    )
    text = f"{header}\n\n{results['table']}\n\nNotes:\n{results['notes']}\n"
    (out / "results.md").write_text(text)
    if results["profiles"]:
        (out / "results-profile.md").write_text(results["profiles"] + "\n")
    return text


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    problem = _check_infrastructure()
    if problem:
        print(f"bench: {problem}", file=sys.stderr)
        return 2
    started = time.monotonic()
    results = asyncio.run(run(args))
    results["seconds"]["total"] = round(time.monotonic() - started, 1)
    print()
    print(write(results, args.out))
    print(f"bench: results in {args.out / 'results.json'} and {args.out / 'results.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
