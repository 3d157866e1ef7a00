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
from shared.kafka.connection import client_options
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
        # limits on, but far above what a test's own traffic from one principal reaches
        # (tests/integration/test_rate_limits.py sets its own)
        "rate_limit_per_address": "60000/minute",
        "rate_limit_writes": "6000/minute",
        "rate_limit_reads": "30000/minute",
    }
    values.update(overrides)
    settings = Settings(**values)
    if "jwks_url" not in overrides:
        # Tokens are verified the real way: the JWKS fetched over HTTP (see jwks_url_for).
        assert settings.jwt_keys_dir is not None
        settings = Settings(**{**values, "jwks_url": jwks_url_for(settings.jwt_keys_dir)})
    return settings


_jwks_server: Any = None


def jwks_url_for(keys_dir: str) -> str:
    """A JWKS URL publishing the public keys of `keys_dir` (read on every request, so a
    rotation shows), from a small HTTP server of this test process, as the identity
    service publishes them."""
    global _jwks_server
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from urllib.parse import quote, unquote

    from shared.signing import jwks

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            directory = unquote(self.path.removeprefix("/").removesuffix("/jwks.json"))
            body = json.dumps(jwks(Settings(jwt_keys_dir=directory))).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    if _jwks_server is None:
        _jwks_server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=_jwks_server.serve_forever, daemon=True).start()
    port = _jwks_server.server_address[1]
    return f"http://127.0.0.1:{port}/{quote(keys_dir, safe='')}/jwks.json"


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
    "identity",
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
    consumer = app.state.runtime.consumer
    if consumer is not None and consumer.ledger is None:  # dedups in its own writes
        await eventually(consumer.caught_up, timeout=30)
        return

    async def all_seen() -> bool:
        return all([await ledger.seen(e.id) for e in events])

    await eventually(all_seen, timeout=30)


def token(settings: Settings, role: str, scope: str, sub: str | None = None) -> str:
    """An EdDSA access token signed by the dev key the identity service publishes."""
    return mint_token(settings, role, scope, sub or f"{role}-{uuid.uuid4().hex[:8]}")


def forged_auth(role: str, scope: str, sub: str = "intruder") -> dict[str, str]:
    """A well-formed token signed by a key set no service trusts."""
    import tempfile

    stranger = Settings(jwt_keys_dir=tempfile.mkdtemp(prefix="tongxin-stranger-keys-"))
    return {"Authorization": f"Bearer {token(stranger, role, scope, sub)}"}


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


@asynccontextmanager
async def serving(app: FastAPI, port: int) -> AsyncIterator[str]:
    """The app served over real HTTP on 127.0.0.1:`port` in this event loop (for URLs other
    services fetch, such as the identity service's JWKS). Yields its base URL."""
    import uvicorn

    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, lifespan="on", access_log=False
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        await eventually(lambda: _started(server, task), timeout=60)
        runtime = app.state.runtime
        if runtime.consumer is not None:
            await asyncio.wait_for(runtime.consumer.assigned.wait(), 30)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


async def _started(server: Any, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # raises what stopped it
        raise AssertionError("server stopped before it started")
    return bool(server.started)


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
        **client_options(settings),
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
