"""Benchmark 1, the event pipeline: each service's consumer against raw aiokafka.

For each consumer, one service process (pinned to the servers' CPU) subscribes to a fresh
namespace. Each round the harness produces a batch of campaign events on the streams it
reads, and times the service taking them off the topics, from its own /metrics
(`tongxin_consumer_events_total`), so nothing here depends on the service's internals.
Then a raw aiokafka consumer, pinned the same way, reads the very same records.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pymongo import AsyncMongoClient

from bench import contract, inbox_baseline, seed
from bench.common import BenchConfig, bench_settings, cleanup
from bench.events import Campaign, stream_of, wrap
from bench.procs import CpuWatch, HttpProcess, infrastructure_pids, service_process
from bench.profile import Profiler
from bench.raw_kafka import Produced, consume_in_child, produce
from bench.stats import Figure, Goal, median, rate_from_samples, unavailable
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.registry import payload_of
from shared.kafka.topics import ensure_topics
from shared.settings import Settings

EVENTS = "tongxin_consumer_events_total"
LAG = "tongxin_consumer_lag_messages"
# How long a service may take to start (notify loads its mirrors: ~100k volunteers at 4.).
READY_S = 300.0
# How often the harness reads a service's /metrics while it works (each read costs it ~1 ms).
POLL_S = 0.2


Baseline = Literal["raw consume", "inbox insert"]


@dataclass(frozen=True)
class Consumer:
    service: str
    label: str
    default_streams: tuple[str, ...]
    goal: Goal | None = None
    # What the service is measured against: the raw consume of its records, or (notify) that
    # plus the parse and one bulk-inserted inbox document per recipient (bench.inbox_baseline).
    baseline: Baseline = "raw consume"

    @property
    def streams(self) -> list[str]:
        """What the service subscribes to now (its consumers.STREAMS), else the default."""
        try:
            module = importlib.import_module(f"services.{self.service}.handlers.events")
            return list(module.STREAMS)
        except (ImportError, AttributeError):
            return list(self.default_streams)


CONSUMERS = [
    Consumer(
        "metrics",
        "metrics projection",
        ("needs", "volunteers", "notify"),
        Goal("ratio ≥ 0.5", min_ratio=0.5),
    ),
    Consumer(
        "notify",
        "notify fan-out",
        ("needs", "volunteers"),
        Goal("ratio ≥ 0.3", min_ratio=0.3),
        baseline="inbox insert",
    ),
    Consumer("volunteers", "volunteers passbook", ("needs",)),
    Consumer("needs", "needs read model", ("volunteers",)),
]


@dataclass
class Measured:
    rate: float | None
    consumed: int
    seconds: float
    complete: bool
    outcomes: dict[str, int] = field(default_factory=dict)
    # What the service had taken in all when the measurement began.
    start: float = 0.0
    # Polls that caught the service mid-way: with fewer than 3 the rate is a rough bound.
    inside: int = 0


async def _outcomes(svc: HttpProcess, service: str) -> dict[str, float]:
    samples = await svc.metrics()
    found: dict[str, float] = {}
    for name, labels, value in samples:
        if name == EVENTS and labels.get("service") == service:
            outcome = labels.get("outcome", "?")
            found[outcome] = found.get(outcome, 0.0) + value
    return found


def _taken(outcomes: dict[str, float]) -> float:
    """Records taken off the topics: every outcome but a retry, which ends in another."""
    return sum(v for k, v in outcomes.items() if k != "retried")


async def consumed(svc: HttpProcess, service: str) -> float:
    return _taken(await _outcomes(svc, service))


async def wait_assigned(svc: HttpProcess, service: str, partitions: int, timeout: float) -> bool:
    """True once the consumer reports lag for all its partitions (it has joined and fetched)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        samples = await svc.metrics()
        series = sum(1 for n, labels, _ in samples if n == LAG and labels["service"] == service)
        if series >= partitions:
            return True
        await asyncio.sleep(0.3)
    return False


async def measure(
    svc: HttpProcess,
    service: str,
    before: dict[str, float],
    before_at: float,
    expected: int,
    timeout: float,
) -> Measured:
    """Polls the service's counters until it has taken `expected` more records than it had
    taken at `before_at` (`before`)."""
    start = _taken(before)
    target = start + expected
    samples: list[tuple[float, float]] = [(before_at, start)]
    began = time.monotonic()
    now_outcomes = before
    while True:
        now_outcomes = await _outcomes(svc, service)
        count = _taken(now_outcomes)
        samples.append((time.monotonic(), count))
        if count >= target or time.monotonic() - began > timeout:
            break
        await asyncio.sleep(POLL_S)
    complete = samples[-1][1] >= target
    rate = rate_from_samples(samples, start, target if complete else samples[-1][1] + 1)
    if not complete:  # a slow consumer: its rate over what it managed
        moving = [(t, c) for t, c in samples if c > start]
        if len(moving) >= 2 and moving[-1][0] > moving[0][0]:
            rate = (moving[-1][1] - moving[0][1]) / (moving[-1][0] - moving[0][0])
    outcomes = {k: int(v - before.get(k, 0)) for k, v in now_outcomes.items()}
    return Measured(
        rate,
        int(samples[-1][1] - start),
        samples[-1][0] - began,
        complete,
        {k: v for k, v in outcomes.items() if v},
        start,
        sum(1 for _, c in samples if start < c < target),
    )


async def feed(
    settings: Settings, svc: HttpProcess, service: str, events: list[CloudEvent], timeout: float
) -> tuple[Measured, Produced]:
    """Produces `events` on their streams and measures the service taking them."""
    before = await _outcomes(svc, service)
    before_at = time.monotonic()
    produced = await produce(
        settings.kafka_bootstrap,
        [(settings.topics.for_stream(stream_of(e)), e) for e in events],
    )
    measured = await measure(svc, service, before, before_at, len(events), timeout)
    return measured, produced


async def drain_backlog(
    settings: Settings, service: str, events: list[CloudEvent], log_dir: Path, timeout: float
) -> tuple[Measured, Produced, HttpProcess, dict[str, float]]:
    """Produces `events` while the service is stopped, then starts it and measures it taking
    the backlog, as the raw consumer takes records already on the topics; the rate is the
    slope between polls inside the window, so start-up and the group join do not count."""
    produced = await produce(
        settings.kafka_bootstrap,
        [(settings.topics.for_stream(stream_of(e)), e) for e in events],
    )
    svc = service_process(service, settings, log_dir)
    watch = CpuWatch({service: svc.pid, **infrastructure_pids()})
    await svc.wait_ready(timeout=READY_S)
    watch.start()
    before, before_at = await _outcomes(svc, service), time.monotonic()
    left = len(events) - int(_taken(before))
    if left <= 0:  # taken while it started: nothing left to time
        return Measured(None, 0, 0.0, True, start=_taken(before)), produced, svc, watch.stop()
    measured = await measure(svc, service, before, before_at, left, timeout)
    return measured, produced, svc, watch.stop()


def _describe(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())) or "nothing"


def cpu_shares(rounds: list[dict[str, float]]) -> dict[str, float]:
    """Median share of a core per process over the rounds."""
    names = {n for r in rounds for n in r}
    return {n: round(median([r[n] for r in rounds if n in r]) or 0.0, 2) for n in sorted(names)}


def describe_cpu(shares: dict[str, float]) -> str:
    return "CPU while measured: " + ", ".join(f"{n} {v:.0%}" for n, v in shares.items())


def _round_size(cfg: BenchConfig, rate: float | None, share: float) -> int:
    """Events for a round of about `round_seconds` (times `share`) at `rate`."""
    if not rate:
        return 100
    return max(100, min(cfg.pipeline_events, int(rate * cfg.round_seconds * share)))


async def _grow(
    cfg: BenchConfig, settings: Settings, service: str, stored: int, known: set[str], figure: Figure
) -> None:
    grown = await seed.grow_database(
        settings, settings.database_name(service), cfg.sizes[0], stored, known
    )
    figure.extra["stored"] = grown.collections
    figure.extra["seed_seconds"] = round(grown.seconds, 1)


async def addressed(
    settings: Settings, since: datetime, events: list[CloudEvent]
) -> dict[str, list[str]]:
    """Whom notify put an inbox item for, per event of `events` (its items since `since`):
    the recipients the inbox baseline is given. Read by the harness, unmeasured."""
    wanted = {e.id for e in events}
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, socketTimeoutMS=300_000
    )
    try:
        items = client[settings.database_name("notify")]["inbox"]
        found: dict[str, list[str]] = {}
        query = {"created_at": {"$gte": since}}
        async for doc in items.find(query, {"event_id": 1, "recipient_id": 1}):
            if doc.get("event_id") in wanted:
                found.setdefault(doc["event_id"], []).append(doc["recipient_id"])
        return found
    finally:
        await client.close()


async def measure_baseline(
    cfg: BenchConfig,
    consumer: Consumer,
    settings: Settings,
    produced: Produced,
    events: list[CloudEvent],
    since: datetime,
    log_dir: Path,
    figure: Figure,
) -> None:
    """One baseline run over the records of `produced`, appended to the figure."""
    if consumer.baseline == "inbox insert":
        recipients = await addressed(settings, since, events)
        rate, peak, inserted = await inbox_baseline.run_in_child(
            settings.kafka_bootstrap,
            produced.start_offsets,
            len(events),
            1.0,
            recipients,
            settings.mongodb_url,
            settings.database_name("baseline"),
            log_dir,
        )
        figure.extra.setdefault("baseline_inserted", []).append(inserted)
        cfg.memory.record("pipeline", "inbox baseline", False, peak)
    else:
        rate, peak = await consume_in_child(
            settings.kafka_bootstrap, produced.start_offsets, len(events), 0.5, log_dir
        )
        cfg.memory.record("pipeline", "raw consumer", False, peak)
    figure.baseline_runs.append(rate)


async def _fill_baseline(settings: Settings, consumer: Consumer, figure: Figure) -> None:
    """The inbox baseline inserts into a collection as large as notify's inbox."""
    if consumer.baseline != "inbox insert":
        return
    stored = int(figure.extra.get("stored", {}).get("inbox", 0))
    have = await inbox_baseline.fill(
        settings.mongodb_url, settings.database_name("baseline"), stored
    )
    figure.extra["baseline_stored"] = have


@dataclass
class PipelineResult:
    figures: list[Figure]
    # Ratio ours/baseline per consumer label (for benchmark 4).
    ratios: dict[str, float | None]


async def run_consumer(
    cfg: BenchConfig,
    consumer: Consumer,
    stored: int,
    produce_rates: list[float],
    prefix: str = "1. pipeline",
) -> Figure:
    name = f"{prefix} · {consumer.label}"
    streams = consumer.streams
    settings = bench_settings()
    await ensure_topics(settings)
    log_dir = cfg.log_dir / f"pipeline-{stored}"
    svc = service_process(consumer.service, settings, log_dir)
    figure = Figure("pipeline", name, "events/s", goal=consumer.goal)
    notes: list[str] = []
    try:
        await svc.wait_ready()
        partitions = len(streams) * settings.topic_partitions
        if not await wait_assigned(svc, consumer.service, partitions, 45):
            return unavailable(
                "pipeline", name, "events/s", "no consumer joined its topics", consumer.goal
            )
        campaign = Campaign()
        setup: list[EventPayload] = list(campaign.org_units())
        if consumer.service == "volunteers" and not contract.missing(
            "volunteers", "PUT /v1/orgs/{path}", "POST /v1/volunteers"
        ):
            await seed.put_org_tree(svc.http, settings, campaign)
            await seed.register_volunteers(svc.http, settings, campaign, per_community=3)
            notes.append("volunteers reported in through the API")
        else:
            setup += campaign.fill_pool(per_community=3)
        warm_up = [e for e in wrap(setup) if stream_of(e) in streams]
        warm_up += campaign.batch(100, streams)
        since = datetime.now(UTC)
        measured, produced = await feed(
            settings, svc, consumer.service, warm_up, cfg.pipeline_timeout_s
        )
        outcomes: dict[str, int] = dict(measured.outcomes)
        size = len(warm_up)
        if not measured.complete:
            # Too slow for rounds: one measurement, over what is left of the warm-up.
            figure.status = "partial"
            notes.append(
                f"too slow for rounds: warm-up took {measured.consumed}/{len(warm_up)} "
                f"in {measured.seconds:.0f} s"
            )
            if stored:
                await _grow(cfg, settings, consumer.service, stored, campaign.known_ids, figure)
                await _fill_baseline(settings, consumer, figure)
                before, before_at = await _outcomes(svc, consumer.service), time.monotonic()
                left = len(warm_up) - int(_taken(before) - measured.start)
                measured = await measure(
                    svc, consumer.service, before, before_at, max(1, left), cfg.pipeline_timeout_s
                )
            if measured.rate is not None:
                figure.ours_runs.append(measured.rate)
            await measure_baseline(
                cfg, consumer, settings, produced, warm_up, since, log_dir, figure
            )
        else:
            # Rounds of about `round_seconds` each, so that a slow consumer keeps the run short.
            size = _round_size(cfg, measured.rate, 0.5)
            sizes: list[int] = []
            if stored:
                await _grow(cfg, settings, consumer.service, stored, campaign.known_ids, figure)
                await _fill_baseline(settings, consumer, figure)
            # A batch-flush consumer (notify) counts a batch handled before its flush stores it:
            # its backlog drains in steps, so give it room.
            round_timeout = max(20.0, 4 * cfg.round_seconds)
            cpu: list[dict[str, float]] = []
            attempts = 0
            while len(figure.ours_runs) < cfg.rounds and attempts < cfg.rounds + 4:
                attempts += 1
                batch = campaign.batch(size, streams)
                cfg.memory.record("pipeline", consumer.service, True, await svc.close())
                since = datetime.now(UTC)
                m, produced, svc, shares = await drain_backlog(
                    settings, consumer.service, batch, log_dir, round_timeout
                )
                produce_rates.append(produced.rate)
                for k, v in m.outcomes.items():
                    outcomes[k] = outcomes.get(k, 0) + v
                if m.complete and m.inside < 3 and size < cfg.pipeline_events:
                    # Drained before the polls could time it: a bigger backlog next time.
                    size = min(cfg.pipeline_events, size * 4)
                    continue
                sizes.append(len(batch))
                cpu.append(shares)
                if m.rate is not None:
                    figure.ours_runs.append(m.rate)
                if not m.complete:  # drained before the baseline and the next round
                    before, before_at = await _outcomes(svc, consumer.service), time.monotonic()
                    left = len(batch) - int(_taken(before))  # this process's only records
                    drained = await measure(
                        svc, consumer.service, before, before_at, left, round_timeout
                    )
                    if not drained.complete:
                        figure.status = "partial"
                        notes.append(f"stopped: a round of {len(batch)} did not drain")
                        break
                await measure_baseline(
                    cfg, consumer, settings, produced, batch, since, log_dir, figure
                )
                size = _round_size(cfg, m.rate, 1.0)
            size = int(median(sizes) or 0)
            figure.extra["cpu"] = cpu_shares(cpu)
            notes.append(describe_cpu(figure.extra["cpu"]))
            notes.append("each round a backlog, produced while the service was stopped")
        if consumer.baseline == "inbox insert":
            inserted = median(figure.extra.get("baseline_inserted", [])) or 0
            notes.append(
                "baseline: the same records consumed, parsed, and one inbox document per "
                f"recipient notify addressed bulk-inserted per fetch (~{inserted:.0f} a pass) "
                f"into an inbox of {figure.extra.get('baseline_stored', 0):,}"
            )
        if cfg.profile:
            profiler = Profiler(svc.pid, log_dir / f"profile-{consumer.service}.txt")
            batch = campaign.batch(size, streams)
            await feed(settings, svc, consumer.service, batch, cfg.pipeline_timeout_s)
            summary = await profiler.stop(f"{consumer.label} consumer, {stored:,} stored")
            if summary:
                cfg.profiles.append(summary)
        notes.append(f"~{size} events/round on {'+'.join(streams)}: {_describe(outcomes)}")
        figure.extra["outcomes"] = outcomes
    except Exception as exc:
        figure.status = "failed"
        notes.append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        peak = await svc.close()
        cfg.memory.record("pipeline", consumer.service, True, peak)
        await cleanup(settings)
    figure.note = "; ".join(notes)
    return figure


async def run(cfg: BenchConfig, stored: int, prefix: str = "1. pipeline") -> PipelineResult:
    figures: list[Figure] = []
    produce_rates: list[float] = []
    for consumer in CONSUMERS:
        figures.append(await run_consumer(cfg, consumer, stored, produce_rates, prefix))
    figures.append(
        Figure(
            "pipeline",
            f"{prefix} · raw aiokafka produce (harness)",
            "events/s",
            baseline_runs=produce_rates,
            note="acks=all, idempotent, linger 5 ms: the producer settings of the services",
        )
    )
    ratios = {c.label: f.ratio for c, f in zip(CONSUMERS, figures, strict=False)}
    if stored == cfg.sizes[0]:
        figures.append(parse_ceiling(cfg, figures[0], prefix))
    return PipelineResult(figures, ratios)


def parse_ceiling(cfg: BenchConfig, metrics: Figure, prefix: str) -> Figure:
    """What reading alone costs in Python: the runner's parse of each record (CloudEvent,
    then its typed payload), no I/O, against the raw consumer rates of the metrics rounds.
    No consumer that parses its events can do better than this ratio."""
    events = [e.to_bytes() for e in Campaign().batch(cfg.pipeline_events, ("needs", "volunteers"))]
    runs: list[float] = []
    for _ in range(max(cfg.rounds, len(metrics.baseline_runs))):
        started = time.perf_counter()
        for raw in events:
            payload_of(CloudEvent.from_bytes(raw))
        runs.append(len(events) / (time.perf_counter() - started))
    return Figure(
        "pipeline",
        f"{prefix} · parse only (CloudEvent + payload, no I/O)",
        "events/s",
        ours_runs=runs,
        baseline_runs=list(metrics.baseline_runs),
        note="in the harness process (CPU 1); baseline: the raw consumer of the metrics rounds",
    )
