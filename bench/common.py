"""What every benchmark shares: the run's configuration, isolated settings, peak memory."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pymongo import AsyncMongoClient

from bench.profile import Summary
from shared.kafka.topics import delete_topics
from shared.settings import SERVICE_PORTS, Settings
from tests.helpers import isolated_settings

# Databases a benchmark may create besides the services' own.
EXTRA_DATABASES = ("baseline",)


@dataclass
class BenchConfig:
    quick: bool
    log_dir: Path
    rounds: int
    # Benchmark 1: events per consumer per round.
    pipeline_events: int
    pipeline_timeout_s: float
    # ...fewer when the consumer would need more than this to take them.
    round_seconds: float
    # Benchmark 2: seconds of load per wrk run, and open connections.
    http_seconds: float
    http_connections: int
    # Benchmark 3: needs approved in one burst.
    burst: int
    # Benchmark 4: what is stored before 1 and 2 run; the first size is also 1's and 2's.
    sizes: tuple[int, int]
    growth_rounds: int
    profile: bool = False
    memory: MemoryLog = field(default_factory=lambda: MemoryLog())
    profiles: list[Summary] = field(default_factory=list)

    @classmethod
    def make(cls, quick: bool, log_dir: Path, rounds: int | None = None) -> BenchConfig:
        if quick:
            return cls(
                quick=True,
                log_dir=log_dir,
                rounds=rounds or 2,
                pipeline_events=5_000,
                pipeline_timeout_s=12,
                round_seconds=2,
                http_seconds=2,
                http_connections=10,
                burst=30,
                sizes=(1_000, 10_000),
                growth_rounds=rounds or 1,
            )
        return cls(
            quick=False,
            log_dir=log_dir,
            rounds=rounds or 5,
            pipeline_events=20_000,
            pipeline_timeout_s=40,
            round_seconds=5,
            http_seconds=4,
            http_connections=10,
            burst=100,
            sizes=(1_000, 100_000),
            growth_rounds=rounds or 5,
        )


def bench_settings(**overrides: Any) -> Settings:
    """Topics, databases and consumer groups of one benchmark alone, and otherwise the
    defaults a deployment runs with (three partitions, INFO logs, normal retry backoff)."""
    values: dict[str, Any] = {
        "topic_partitions": 3,
        "consumer_retry_base_s": 0.2,
        "consumer_retry_max_s": 5.0,
        "consumer_max_attempts": 5,
        "relay_poll_s": 0.5,
        "log_level": "INFO",
        "log_format": "json",
        # benchmarks load the services on purpose: rate limits off
        "rate_limit_enabled": False,
    }
    values.update(overrides)
    tag = "b" + uuid.uuid4().hex[:10]
    values.setdefault("topic_namespace", tag)
    values.setdefault("mongodb_database_prefix", tag)
    values.setdefault("consumer_group_prefix", tag)
    return isolated_settings(**values)


async def cleanup(settings: Settings) -> None:
    """Drops the benchmark's databases (by name: listing them all can block behind another
    client's stuck database on FerretDB) and deletes its topics. Best effort, bounded."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, serverSelectionTimeoutMS=5000, socketTimeoutMS=60_000
    )
    try:
        for name in [*SERVICE_PORTS, *EXTRA_DATABASES]:
            try:
                await asyncio.wait_for(client.drop_database(settings.database_name(name)), 60)
            except Exception:
                pass  # left behind under its unique prefix; harmless
    finally:
        await client.close()
    try:
        await asyncio.wait_for(delete_topics(settings, settings.topics.all), 30)
    except Exception:
        pass  # topics that were never created


@dataclass
class MemoryLog:
    """Peak RSS (KiB) of every process a benchmark ran, ours and baselines."""

    peaks: list[tuple[str, str, bool, int]] = field(default_factory=list)

    def record(self, bench: str, process: str, ours: bool, peak_kib: int | None) -> None:
        if peak_kib:
            self.peaks.append((bench, process, ours, peak_kib))

    def peak(self, process: str, ours: bool = True) -> int | None:
        values = [kib for _, p, o, kib in self.peaks if p == process and o == ours]
        return max(values) if values else None
