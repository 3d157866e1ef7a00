"""A restarted metrics instance loads its facts from the generation's snapshot and the facts
named by events committed since (services/metrics/adapters/snapshots.py): ready, it holds
what a full read of the stored facts holds, and answers the same figures."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.metrics.app import create_app
from services.metrics.handlers.projection import Projection
from shared.settings import Settings
from tests.helpers import eventually, running
from tests.integration.test_metrics_api import _district_figures, small_district
from tests.integration.test_metrics_scenario import caught_up, publish


def projection_of(app: FastAPI) -> Projection:
    projection: Projection = app.state.deps
    return projection


def mirror(projection: Projection) -> set[tuple[Any, ...]]:
    return {(k, f.id, v, f.model_dump_json()) for k, f, v in projection.cache.held()}


async def test_a_metrics_instance_restarted_from_a_snapshot_holds_what_a_full_load_holds(
    settings: Settings,
) -> None:
    d = small_district(seed=21)
    half = len(d.events) // 2
    # Snapshots only when the test saves one; no refresh of its own.
    quiet = settings.model_copy(update={"read_model_snapshot_s": 3600.0, "metrics_refresh_s": 0})
    first = create_app(quiet)
    async with running(first):
        projection = projection_of(first)
        await projection.ready.wait()
        assert projection.snapshots is not None

        async def committed(count: int) -> bool:
            assert projection.snapshots is not None
            return sum((await projection.snapshots.committed()).values()) >= count

        await publish(settings, d.events[:half])
        await eventually(lambda: committed(half), timeout=240, interval=0.5)
        assert projection.pointer is not None
        assert await projection.save_snapshot(projection.pointer) >= 0
        await publish(settings, d.events[half:])  # stored and committed after the snapshot
        await eventually(lambda: committed(len(d.events)), timeout=240, interval=0.5)

    restarted = create_app(quiet)
    full = create_app(settings.model_copy(update={"read_model_snapshot_s": 0}))
    async with running(restarted) as b, running(full) as c:
        from_snapshot, from_facts = projection_of(restarted), projection_of(full)
        await from_snapshot.ready.wait()
        await from_facts.ready.wait()
        assert from_snapshot.source == "snapshot" and from_facts.source == "facts"
        assert mirror(from_snapshot) == mirror(from_facts)
        await caught_up(b, settings, d)
        assert await _district_figures(b, settings) == await _district_figures(c, settings)
