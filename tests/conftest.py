"""Fixtures: every test gets its own topics and databases on the real Kafka and FerretDB."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

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
