"""The faults suite. `make test` runs the short version: a minute of the whole workload
under one fault of each kind (kill, pause, restart, the relay and the consumer loops
cancelled), on a private broker and FerretDB (never the shared ones), so it runs beside the
other tests; and the checker catching a deliberately broken relay. `make faults` runs the
long one (TONGXIN_FAULTS_* below).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.faults import jepsen
from tests.faults.cluster import PrivateCluster
from tests.helpers import isolated_settings


@pytest.fixture
async def cluster() -> AsyncIterator[PrivateCluster]:
    c = PrivateCluster()
    try:
        await c.start()
        yield c
    finally:
        c.stop()


def on(cluster: PrivateCluster) -> Settings:
    return isolated_settings(
        kafka_bootstrap=cluster.kafka_bootstrap,
        mongodb_url=cluster.mongodb_url,
        kafka_timeout_s=5.0,
        relay_lease_s=2.0,
        log_level="INFO",
    )


@pytest.mark.timeout(900)  # on a loaded machine a JVM restart alone can take a minute
async def test_nothing_acknowledged_is_lost_or_applied_twice_under_faults(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    verdict = await jepsen.run(
        on(cluster),
        cluster,
        str(tmp_path),
        seed=20261201,
        faults_per_kind=1,
        # one of each kind; the long run restarts the broker's JVM (a minute on a busy machine)
        plan=[
            ("pause", "kafka"),
            ("kill", "needs"),
            ("relay", "volunteers"),
            ("restart", "identity"),
            ("consumer", "notify"),
        ],
        clients=3,
        interval_s=3,
        fault_s=3,
        quiet_s=60,
    )
    assert verdict.history.acknowledged > 50, verdict.table()
    assert sum(verdict.history.faults.values()) == 5, verdict.table()
    assert verdict.lost == [], verdict.table()
    assert verdict.duplicated == [], verdict.table()
    # Copies are an open defect (#16): after `kill needs` the restarted relay's tail check
    # skips the batch its predecessor had published, yet as many copies of it reach the
    # topic (seen 2 December: 12 skipped, needs 1.0606 over 198 events; other runs 1.00).
    # Until that is found the short run bounds copies at 10 %, enough to catch a relay that
    # republishes everything; `make faults` holds every stream to 1.01 and fails on it.
    assert verdict.copies_per_event <= 1.10, verdict.table()
    # Beside the parallel suite a broker's JVM boots slowly: 60 s here; `make faults`
    # holds every recovery to the goal of 30 s.
    assert max(verdict.history.recoveries.values()) <= 60, verdict.table()


@pytest.mark.timeout(600)
async def test_the_checker_catches_a_relay_that_publishes_without_marking(
    cluster: PrivateCluster, tmp_path: Path
) -> None:
    verdict = await jepsen.run(
        on(cluster),
        cluster,
        str(tmp_path),
        seed=7,
        faults_per_kind=0,  # no fault: the broken relay alone must be caught
        clients=1,
        interval_s=8,
        fault_s=1,
        quiet_s=10,
        modules={"needs": "tests.faults.broken_relay"},
    )
    assert verdict.history.acknowledged > 0
    assert not verdict.ok
    assert verdict.worst_copies() > 1.01, verdict.table()


@pytest.mark.faults
async def test_long_run(cluster: PrivateCluster, tmp_path: Path) -> None:
    """`make faults`: the same checks over a long run (settings from the environment)."""
    env = os.environ.get
    verdict = await jepsen.run(
        on(cluster),
        cluster,
        str(tmp_path),
        seed=int(env("TONGXIN_FAULTS_SEED", "1")),
        faults_per_kind=int(env("TONGXIN_FAULTS_PER_KIND", "20")),
        clients=int(env("TONGXIN_FAULTS_CLIENTS", "9")),
        interval_s=float(env("TONGXIN_FAULTS_INTERVAL_S", "5")),
        fault_s=float(env("TONGXIN_FAULTS_FAULT_S", "4")),
        quiet_s=float(env("TONGXIN_FAULTS_QUIET_S", "600")),
        roster_rows=int(env("TONGXIN_FAULTS_ROSTER_ROWS", "50")),
        roster_every_s=float(env("TONGXIN_FAULTS_ROSTER_EVERY_S", "0")),
    )
    assert verdict.ok, verdict.table()
    assert verdict.events >= int(env("TONGXIN_FAULTS_MIN_EVENTS", "100000")), verdict.table()
    assert max(verdict.history.recoveries.values()) <= 30, verdict.table()
