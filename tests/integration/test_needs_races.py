"""Volunteers racing for slots on the real FerretDB: the unique commit insert decides, the
losers get 409, and exactly one event per accepted claim is published."""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client import REGISTRY

from shared.settings import Settings
from tests.helpers import auth, events_of, read_topic
from tests.needs_support import COMMUNITY, need_body, needs_service, rules, volunteer

ADMIN = "community_admin"


async def open_need(client: httpx.AsyncClient, admin: dict[str, str], slots: int) -> str:
    resp = await client.post("/v1/needs", json=need_body(slots=slots), headers=admin)
    assert resp.status_code == 201, resp.text
    need_id = str(resp.json()["id"])
    assert (await client.post(f"/v1/needs/{need_id}/approve", headers=admin)).status_code == 200
    return need_id


def conflicts() -> float:
    value = REGISTRY.get_sample_value("tongxin_needs_commit_conflicts_total", {"action": "claim"})
    return value or 0.0


async def claim(
    client: httpx.AsyncClient, settings: Settings, need_id: str, vid: str
) -> httpx.Response:
    headers = auth(settings, "volunteer", COMMUNITY, sub=vid)
    return await client.post(
        f"/v1/needs/{need_id}/claims", json={"volunteer_id": vid}, headers=headers
    )


async def test_fifty_volunteers_racing_for_three_slots_leave_exactly_three_claims(
    settings: Settings,
) -> None:
    admin = auth(settings, ADMIN, COMMUNITY)
    racers = [f"v{i:02d}" for i in range(50)]
    async with needs_service(settings, *(volunteer(v) for v in racers)) as (_, client):
        need_id = await open_need(client, admin, slots=3)
        started, lost = time.perf_counter(), conflicts()
        replies = await asyncio.gather(*(claim(client, settings, need_id, v) for v in racers))
        elapsed, lost = time.perf_counter() - started, conflicts() - lost
        codes = [r.status_code for r in replies]
        assert codes.count(201) == 3, codes
        assert codes.count(409) == 47, codes
        need = (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()
        assert need["status"] == "claimed"
        assert need["slots_taken"] == 3
        winners = {r.json()["volunteer_ids"][0] for r in replies if r.status_code == 201}
        assert {v for c in need["claims"] for v in c["volunteer_ids"]} == winners
        assert len(need["claims"]) == 3
        print(f"\n50 claims on 3 slots: {elapsed:.2f}s, {lost:.0f} commits lost a race")

        records = await read_topic(settings, settings.topics.needs, expect=5, timeout=20)
        claimed = [e for e in events_of(records) if e.type == "org.tongxin.project.claimed"]
        assert len(claimed) == 3
        assert {e.data["volunteer_ids"][0] for e in claimed} == winners
        assert sorted(e.data["slots_taken"] for e in claimed) == [1, 2, 3]


async def test_last_slot_goes_to_exactly_one_of_two_racing_volunteers_every_time(
    settings: Settings,
) -> None:
    admin = auth(settings, ADMIN, COMMUNITY)
    rounds = 20
    # each wins about half of the rounds: no cap on active claims here
    known = (volunteer("va"), volunteer("vb"), rules(volunteer_claim_cap=1000))
    async with needs_service(settings, *known) as (_, client):
        need_ids = []
        for _ in range(rounds):
            need_id = await open_need(client, admin, slots=1)
            need_ids.append(need_id)
            a, b = await asyncio.gather(
                claim(client, settings, need_id, "va"), claim(client, settings, need_id, "vb")
            )
            assert sorted([a.status_code, b.status_code]) == [201, 409], (a.text, b.text)
            loser = a if a.status_code == 409 else b
            assert loser.json()["error"]["details"]["status"] == "claimed"
            need = (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()
            assert (need["status"], need["slots_taken"], len(need["claims"])) == ("claimed", 1, 1)

        records = await read_topic(settings, settings.topics.needs, expect=3 * rounds, timeout=30)
        claimed = [e for e in events_of(records) if e.type == "org.tongxin.project.claimed"]
        assert sorted(e.subject for e in claimed) == sorted(need_ids)
