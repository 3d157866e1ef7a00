"""Benchmark 2, HTTP writes: `POST /v1/needs` (auth, validation, idempotency, outbox)
against a bare FastAPI endpoint that validates the same body and inserts one document.

Both are uvicorn processes on the servers' CPU; wrk on the other CPU drives them in
alternating runs with the same body, connections and duration.
"""

from __future__ import annotations

import json
import sys
import uuid
from dataclasses import dataclass

from bench import contract, seed
from bench.common import BenchConfig, bench_settings, cleanup
from bench.events import DISTRICT, Campaign, wrap
from bench.pipeline import cpu_shares, describe_cpu, feed
from bench.procs import CpuWatch, HttpProcess, infrastructure_pids, service_process
from bench.profile import Profiler
from bench.stats import Figure, Goal, unavailable
from bench.wrk import WrkResult, run_wrk
from shared.auth import mint_token
from shared.kafka.topics import ensure_topics
from shared.settings import Settings
from tests.helpers import settings_env

COMMUNITY = f"{DISTRICT}.s0.c0"
THROUGHPUT_GOAL = Goal("ratio ≥ 0.7", min_ratio=0.7)
SAMPLE_BODY = json.dumps(
    {
        "community_id": COMMUNITY,
        "title": "为96岁独居老人购买年货 / New-Year goods for a 96-year-old",
        "category": "elderly_care",
        "requester": {"name": "王阿姨", "phone": "13800001234"},
        "skills": ["elderly_care"],
    }
)


@dataclass
class HttpResult:
    figures: list[Figure]
    ratio: float | None


def _baseline_process(settings: Settings, cfg: BenchConfig, stored: int) -> HttpProcess:
    argv = [sys.executable, "-m", "bench.baseline_app"]
    return HttpProcess("baseline-app", argv, settings_env(settings), cfg.log_dir / f"http-{stored}")


async def _load(url: str, token: str, cfg: BenchConfig, seconds: float) -> WrkResult:
    return await run_wrk(
        url,
        "post_need.lua",
        [token, uuid.uuid4().hex[:12], COMMUNITY],
        duration_s=seconds,
        connections=cfg.http_connections,
    )


async def run(cfg: BenchConfig, stored: int, prefix: str = "2. HTTP POST /v1/needs") -> HttpResult:
    names = (f"{prefix} · throughput", f"{prefix} · p50 latency", f"{prefix} · p99 latency")
    gone = contract.missing("needs", "POST /v1/needs")
    if gone:
        return HttpResult([unavailable("http", names[0], "req/s", "; ".join(gone))], None)
    settings = bench_settings()
    await ensure_topics(settings)
    token = mint_token(settings, "community_admin", COMMUNITY, "bench-admin")
    needs = service_process("needs", settings, cfg.log_dir / f"http-{stored}")
    base = _baseline_process(settings, cfg, stored)
    rps = Figure("http", names[0], "req/s", goal=THROUGHPUT_GOAL)
    p50 = Figure("http", names[1], "ms")
    p99 = Figure("http", names[2], "ms")
    notes: list[str] = []
    try:
        await needs.wait_ready()
        await base.wait_ready("/healthz")
        # The needs service accepts needs of communities it has heard of (org tree events).
        campaign = Campaign()
        directory = wrap([*campaign.org_units(), *campaign.fill_pool(per_community=3)])
        await feed(settings, needs, "needs", directory, 60)
        posted: set[str] = set()
        for proc in (base, needs, needs):  # one request first, for a readable error
            resp = await proc.http.post(
                "/v1/needs",
                content=SAMPLE_BODY,
                headers={
                    "Authorization": f"Bearer {token}",
                    "Content-Type": "application/json",
                    "Idempotency-Key": uuid.uuid4().hex,
                },
            )
            if resp.status_code != 201:
                raise RuntimeError(f"{proc.name}: {resp.status_code} {resp.text[:300]}")
            posted.add(str(resp.json().get("id")))
        # Warm-up: imports, connection pools, and one of everything stored for cloning.
        for proc in (base, needs):
            warm = await _load(proc.url, token, cfg, 1)
            if warm.error_share > 0.01:
                raise RuntimeError(
                    f"{proc.name} answered {warm.non_2xx} of {warm.requests} with errors"
                )
        if stored:
            known = campaign.known_ids | posted
            for db in ("needs", "baseline"):
                grown = await seed.grow_database(
                    settings, settings.database_name(db), cfg.sizes[0], stored, known
                )
                rps.extra[f"stored in {db}"] = grown.collections
                rps.extra[f"seed seconds {db}"] = round(grown.seconds, 1)
        errors = 0
        cpu_ours: list[dict[str, float]] = []
        cpu_base: list[dict[str, float]] = []
        for i in range(cfg.rounds):
            # Alternate which goes first, so that a drifting machine favours neither.
            order = [(base, False), (needs, True)] if i % 2 == 0 else [(needs, True), (base, False)]
            for proc, ours in order:
                watch = CpuWatch({proc.name: proc.pid, **infrastructure_pids()})
                watch.start()
                result = await _load(proc.url, token, cfg, cfg.http_seconds)
                (cpu_ours if ours else cpu_base).append(watch.stop())
                if ours:
                    errors += result.non_2xx + result.socket_errors
                rps_runs = rps.ours_runs if ours else rps.baseline_runs
                rps_runs.append(result.requests_per_s)
                if result.p50_ms is not None:
                    (p50.ours_runs if ours else p50.baseline_runs).append(result.p50_ms)
                if result.p99_ms is not None:
                    (p99.ours_runs if ours else p99.baseline_runs).append(result.p99_ms)
                proc.sample_peak()
        if cfg.profile:
            profiler = Profiler(needs.pid, cfg.log_dir / f"http-{stored}" / "profile-needs.txt")
            await _load(needs.url, token, cfg, cfg.http_seconds)
            summary = await profiler.stop(f"needs POST /v1/needs under wrk, {stored:,} stored")
            if summary:
                cfg.profiles.append(summary)
        rps.extra["cpu ours"] = cpu_shares(cpu_ours)
        rps.extra["cpu baseline"] = cpu_shares(cpu_base)
        notes.append(
            f"ours: {describe_cpu(rps.extra['cpu ours'])}; "
            f"baseline: {describe_cpu(rps.extra['cpu baseline'])}"
        )
        notes.append(
            f"wrk -c{cfg.http_connections} {cfg.http_seconds:g} s × {cfg.rounds} each; "
            f"latency ratios: lower is better"
        )
        if errors:
            rps.status = "partial"
            notes.append(f"ours answered {errors} requests with errors")
    except Exception as exc:
        rps.status = "failed"
        notes.append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        cfg.memory.record("http", "needs", True, await needs.close())
        cfg.memory.record("http", "baseline app", False, await base.close())
        await cleanup(settings)
    rps.note = "; ".join(notes)
    return HttpResult([rps, p50, p99], rps.ratio)
