"""A needs process killed after accepting a claim but before publishing its event loses
nothing: the next process publishes it, once."""

from __future__ import annotations

import signal
from pathlib import Path

import httpx

from shared.settings import Settings
from tests.helpers import ServiceProcess, auth, events_of, eventually, read_topic
from tests.needs_support import COMMUNITY, need_body, org_unit, publish, volunteer


async def test_a_claim_accepted_before_a_kill_is_published_once_after_restart(
    settings: Settings, tmp_path: Path
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    await publish(settings, org_unit(COMMUNITY), volunteer("v1"))
    log = str(tmp_path / "needs.log")

    # First life: stores the changes (and their events) but never publishes.
    first = ServiceProcess("needs", settings, log, TONGXIN_RELAY_ENABLED="false")
    try:
        await first.wait_ready()
        async with httpx.AsyncClient(base_url=first.url) as client:

            async def posted() -> str | None:  # 422 until the community is known
                resp = await client.post("/v1/needs", json=need_body(), headers=admin)
                return str(resp.json()["id"]) if resp.status_code == 201 else None

            need_id = await eventually(posted, timeout=30, interval=0.3)
            resp = await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
            assert resp.status_code == 200, resp.text

            async def claimed() -> str | None:  # 422 until the volunteer is known
                resp = await client.post(
                    f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
                )
                return str(resp.json()["id"]) if resp.status_code == 201 else None

            claim_id = await eventually(claimed, timeout=30, interval=0.3)
    finally:
        first.kill(signal.SIGKILL)
    assert await read_topic(settings, settings.topics.needs, timeout=2) == []

    # Second life: the relay finds the stored events and publishes each once.
    second = ServiceProcess("needs", settings, log)
    try:
        await second.wait_ready()
        records = await read_topic(settings, settings.topics.needs, expect=3, timeout=30)
        async with httpx.AsyncClient(base_url=second.url) as client:
            need = (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()
    finally:
        second.kill(signal.SIGTERM)
    events = events_of(records)
    assert [(e.type, e.subject) for e in events] == [
        ("org.tongxin.need.posted", need_id),
        ("org.tongxin.need.approved", need_id),
        ("org.tongxin.project.claimed", need_id),
    ]
    assert events[2].data["claim_id"] == claim_id
    assert need["status"] == "claimed" and need["claims"][0]["id"] == claim_id
