"""A process killed between storing a change and publishing its event loses nothing."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from shared.settings import Settings
from tests.helpers import ServiceProcess, auth, events_of, eventually, read_topic
from tests.needs_support import org_unit, publish

COMMUNITY = "zhongshan.hongyan.dongfeng"


async def test_event_stored_before_a_kill_is_published_once_after_restart(
    settings: Settings, tmp_path: Path
) -> None:
    headers = auth(settings, "resident", COMMUNITY)
    body = {
        "community_id": COMMUNITY,
        "title": "轮椅一辆",
        "category": "hardship_relief",
        "requester": {"name": "李大爷", "phone": "13900001111"},
    }
    # The needs service accepts needs only for communities the volunteers stream announced.
    await publish(settings, org_unit(COMMUNITY))
    # First life: the request is accepted and stored, but this process never publishes.
    first = ServiceProcess(
        "needs", settings, str(tmp_path / "needs.log"), TONGXIN_RELAY_ENABLED="false"
    )
    try:
        await first.wait_ready()
        async with httpx.AsyncClient(base_url=first.url) as client:

            async def posted() -> httpx.Response | None:  # 422 until the community is known
                resp = await client.post("/v1/needs", json=body, headers=headers)
                assert resp.status_code in (201, 422), resp.text
                return resp if resp.status_code == 201 else None

            resp = await eventually(posted, timeout=30, interval=0.3)
        need_id = resp.json()["id"]
    finally:
        first.kill(signal.SIGKILL)
    assert await read_topic(settings, settings.topics.needs, timeout=2) == []

    # Second life: the relay finds the stored event and publishes it, once.
    second = ServiceProcess("needs", settings, str(tmp_path / "needs.log"))
    try:
        await second.wait_ready()
        records = await read_topic(settings, settings.topics.needs, expect=1, timeout=30)
    finally:
        second.kill(signal.SIGTERM)
    events = events_of(records)
    assert [(e.type, e.subject) for e in events] == [("org.tongxin.need.posted", need_id)]
