"""What tests share: isolated settings, in-process services, tokens, a raw topic reader."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from fastapi import FastAPI
from pymongo import AsyncMongoClient

from shared.auth import mint_token
from shared.events.envelope import CloudEvent
from shared.kafka.topics import delete_topics, ensure_topics
from shared.settings import Settings

T = TypeVar("T")


def isolated_settings(**overrides: Any) -> Settings:
    """Topics, databases and consumer groups of this test alone, on the real broker and FerretDB."""
    tag = "t" + uuid.uuid4().hex[:10]
    values: dict[str, Any] = {
        "topic_namespace": tag,
        "mongodb_database_prefix": tag,
        "consumer_group_prefix": tag,
        "topic_partitions": 2,
        "consumer_retry_base_s": 0.01,
        "consumer_retry_max_s": 0.05,
        "consumer_max_attempts": 3,
        "relay_poll_s": 0.1,
        "log_level": "WARNING",
        "log_format": "json",
    }
    values.update(overrides)
    return Settings(**values)


# Every database a test may make: dropped by name, since FerretDB's listDatabases has been
# seen to hang for minutes while computing sizes.
TEST_DATABASES = (
    "needs",
    "volunteers",
    "notify",
    "metrics",
    "storetest",
    "runnertest",
    "redrivetest",
)


async def cleanup(settings: Settings) -> None:
    """Drops what isolated_settings made: its databases and topics. Never hangs a test."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, serverSelectionTimeoutMS=5000, socketTimeoutMS=20000
    )
    try:
        for name in TEST_DATABASES:
            await asyncio.wait_for(client.drop_database(settings.database_name(name)), 20)
    except Exception:
        pass  # a leftover test database harms nobody; a hung teardown would
    finally:
        await client.close()
    try:
        await asyncio.wait_for(delete_topics(settings, settings.topics.all), 30)
    except Exception:
        pass  # topics that were never created


def org_event(path: str) -> CloudEvent:
    """A small real event for exercising the consumer plumbing."""
    from datetime import UTC, datetime

    from shared.events.volunteers import OrgUnitUpdated

    return CloudEvent.wrap(
        OrgUnitUpdated(
            path=path,
            name=path,
            level="community",
            parent=None,
            updated_by="t",
            updated_at=datetime.now(UTC),
        )
    )


async def handled(app: FastAPI, *events: CloudEvent) -> None:
    """Waits until the running service's consumer has handled every one of these events."""
    ledger = app.state.runtime.ledger

    async def all_seen() -> bool:
        return all([await ledger.seen(e.id) for e in events])

    await eventually(all_seen, timeout=30)


def token(settings: Settings, role: str, scope: str, sub: str | None = None) -> str:
    return mint_token(settings, role, scope, sub or f"{role}-{uuid.uuid4().hex[:8]}")


def auth(settings: Settings, role: str, scope: str, sub: str | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(settings, role, scope, sub)}"}


@asynccontextmanager
async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its lifespan (consumer, relay) running, and an HTTP client on it."""
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        if runtime.consumer is not None:
            await asyncio.wait_for(runtime.consumer.assigned.wait(), 30)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def eventually(
    check: Callable[[], Awaitable[T]], timeout: float = 20.0, interval: float = 0.1
) -> T:
    """Polls `check` until it returns a truthy value (returned) or raises after `timeout`."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while True:
        last = await check()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
        await asyncio.sleep(interval)


async def read_topic(
    settings: Settings, topic: str, *, expect: int | None = None, timeout: float = 10.0
) -> list[ConsumerRecord[bytes, bytes]]:
    """Every record of `topic` from the beginning: until `expect` arrived, or `timeout` idle."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=settings.kafka_bootstrap,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for recs in batch.values():
                records.extend(recs)
            if expect is not None and len(records) >= expect:
                # a little longer, to see anything that should not be there
                batch = await consumer.getmany(timeout_ms=500)
                for recs in batch.values():
                    records.extend(recs)
                break
    finally:
        await consumer.stop()
    return records


def events_of(records: list[ConsumerRecord[bytes, bytes]]) -> list[CloudEvent]:
    return [CloudEvent.from_bytes(r.value or b"") for r in records]


async def create_topics(settings: Settings) -> None:
    await ensure_topics(settings)


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as TONGXIN_* environment variables, for a service run as a real process."""
    import json
    import os

    env = dict(os.environ)
    for name, value in settings.model_dump().items():
        if value is None:
            continue
        env[f"TONGXIN_{name.upper()}"] = (
            json.dumps(value) if isinstance(value, list | dict) else str(value)
        )
    return env


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServiceProcess:
    """One service served by uvicorn in its own process, as `tongxin serve` runs it."""

    def __init__(
        self,
        service: str,
        settings: Settings,
        log_path: str,
        module: str = "shared.cli",
        **env: str,
    ) -> None:
        import subprocess
        import sys

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", module, "serve", service, "--port", str(self.port)],
            env={**settings_env(settings), **env},
            stdout=self._log,
            stderr=self._log,
        )

    async def wait_ready(self, timeout: float = 60.0) -> None:
        async def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"service exited with {self.proc.returncode}")
            try:
                async with httpx.AsyncClient() as c:
                    return (await c.get(self.url + "/readyz", timeout=2)).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(ready, timeout=timeout, interval=0.3)

    def kill(self, sig: int = 9) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        self._log.close()
