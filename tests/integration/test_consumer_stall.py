"""A consumer that makes no progress while it has work is visible (#12): /readyz answers 503
`consumer_stalled` with the topic, and `tongxin_consumer_stalled` is 1, within 60 s; both
clear once it moves again. The notify service stands for every service (the runner and the
readiness check are shared)."""

from __future__ import annotations

import asyncio
import time

import pytest

from services.notify.adapters.read_model import ReadModel
from shared.events.volunteers import OrgUnitUpdated
from shared.settings import Settings
from tests.helpers import eventually, org_event
from tests.integration.test_notify_support import notify_service, notify_settings, publisher


async def test_a_handler_that_blocks_turns_readyz_to_503_consumer_stalled_within_60_s(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()

    async def blocking(read_model: ReadModel, unit: OrgUnitUpdated) -> None:
        await release.wait()  # the org unit handler never gets past its read model

    monkeypatch.setattr(ReadModel, "put_org_unit", blocking)
    s = notify_settings(settings)
    assert s.consumer_stall_after_s <= 30  # the default: stalls show within 60 s
    topic = s.topics.volunteers
    async with publisher(s) as kafka, notify_service(s) as (client, _, _):
        assert (await client.get("/readyz")).status_code == 200
        await kafka.publish(topic, [org_event("a.b.c")])
        published = time.monotonic()

        async def stalled() -> dict[str, str]:
            resp = await client.get("/readyz")
            reasons: dict[str, str] = resp.json().get("reasons", {})
            return reasons if resp.status_code == 503 and "consumer_stalled" in reasons else {}

        reasons: dict[str, str] = await eventually(stalled, timeout=60, interval=1.0)
        took = time.monotonic() - published
        print(f"stall reported after {took:.1f} s")
        assert topic in reasons["consumer_stalled"] and took <= 60
        metrics = (await client.get("/metrics")).text
        assert f'tongxin_consumer_stalled{{service="notify",topic="{topic}"}} 1.0' in metrics

        release.set()

        async def ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        await eventually(ready, timeout=30)
        metrics = (await client.get("/metrics")).text
        assert f'tongxin_consumer_stalled{{service="notify",topic="{topic}"}} 0.0' in metrics


async def test_a_stall_past_the_restart_limit_fails_the_liveness_probe_and_clears_after(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    release = asyncio.Event()

    async def blocking(read_model: ReadModel, unit: OrgUnitUpdated) -> None:
        await release.wait()  # the org unit handler never gets past its read model

    monkeypatch.setattr(ReadModel, "put_org_unit", blocking)
    s = notify_settings(settings).model_copy(
        update={"consumer_stall_after_s": 2.0, "consumer_stall_restart_after_s": 6.0}
    )
    async with publisher(s) as kafka, notify_service(s) as (client, _, _):
        assert (await client.get("/healthz")).status_code == 200
        await kafka.publish(s.topics.volunteers, [org_event("a.b.c")])

        async def not_ready() -> bool:
            return (await client.get("/readyz")).status_code == 503

        await eventually(not_ready, timeout=30, interval=0.5)
        # stalled, but not yet for the restart limit: alive, so Kubernetes waits
        assert (await client.get("/healthz")).status_code == 200

        async def dead() -> dict[str, str]:
            resp = await client.get("/healthz")
            reasons: dict[str, str] = resp.json().get("reasons", {})
            return reasons if resp.status_code == 503 else {}

        reasons = await eventually(dead, timeout=30, interval=0.5)
        assert s.topics.volunteers in reasons["consumer_stalled"]
        release.set()

        async def alive() -> bool:
            return (await client.get("/healthz")).status_code == 200

        await eventually(alive, timeout=30)
