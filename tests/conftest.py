"""Fixtures: every test gets its own topics and databases on the real Kafka and FerretDB."""

from __future__ import annotations

import asyncio
import gc
import io
import socket
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo.uri_parser import parse_uri

from shared.settings import Settings
from tests.helpers import cleanup, isolated_settings


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def infrastructure() -> None:
    """The Makefile starts Kafka and FerretDB (`make infra-up`); tests never assume them."""
    base = Settings()
    kafka_host, _, kafka_port = base.kafka_bootstrap.split(",")[0].rpartition(":")
    mongo_host, mongo_port = parse_uri(base.mongodb_url)["nodelist"][0]
    missing = [
        name
        for name, (host, port) in {
            "Kafka": (kafka_host or "localhost", int(kafka_port)),
            "MongoDB/FerretDB": (mongo_host, mongo_port),
        }.items()
        if not _reachable(host, port)
    ]
    if missing:
        pytest.exit(f"{' and '.join(missing)} not reachable: run `make infra-up` first", 2)


@pytest.fixture
async def settings(infrastructure: None) -> AsyncIterator[Settings]:
    s = isolated_settings()
    yield s
    await cleanup(s)


STUCK_S = 45.0
STUCK_LOG = Path(__file__).resolve().parents[1] / "var" / "log" / "stuck-tests.log"


def _report_stuck(nodeid: str) -> None:
    """Where every asyncio task of a stuck test waits: the event loop's thread alone shows
    only the loop idling."""
    tasks = [o for o in gc.get_objects() if isinstance(o, asyncio.Task) and not o.done()]
    out = io.StringIO()
    print(f"\n=== {nodeid} still running after {STUCK_S:.0f}s: {len(tasks)} tasks", file=out)
    for task in tasks:
        task.print_stack(limit=12, file=out)
    sys.stderr.write(out.getvalue())  # shown with the failure pytest-timeout makes of it
    STUCK_LOG.parent.mkdir(parents=True, exist_ok=True)
    with STUCK_LOG.open("a") as log:  # kept if the run itself is killed
        log.write(out.getvalue())


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    watchdog = threading.Timer(STUCK_S, _report_stuck, args=(item.nodeid,))
    watchdog.daemon = True
    watchdog.start()
    try:
        return (yield)
    finally:
        watchdog.cancel()
