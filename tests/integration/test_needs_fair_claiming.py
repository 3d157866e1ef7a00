"""Who may claim and how much (#15), on the real Kafka and FerretDB: a need opened to its
street, the district's caps on active claims, completion with fewer people than planned,
and expired claims shown to admins only."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import httpx

from services.needs.handlers import commands
from shared.clock import ManualClock
from shared.settings import Settings
from tests.helpers import auth, eventually
from tests.needs_support import (
    COMMUNITY,
    OTHER_COMMUNITY,
    OTHER_DISTRICT_COMMUNITY,
    OTHER_STREET_COMMUNITY,
    need_body,
    needs_service,
    organization,
    rules,
    volunteer,
)


async def open_need(client: httpx.AsyncClient, admin: dict[str, str], **body: object) -> str:
    posted = await client.post("/v1/needs", json=need_body(**body), headers=admin)
    assert posted.status_code == 201, posted.text
    need_id = str(posted.json()["id"])
    assert (await client.post(f"/v1/needs/{need_id}/approve", headers=admin)).status_code == 200
    return need_id


async def claim_as(
    client: httpx.AsyncClient, need_id: str, volunteer_id: str, who: dict[str, str]
) -> int:
    r = await client.post(
        f"/v1/needs/{need_id}/claims", json={"volunteer_id": volunteer_id}, headers=who
    )
    assert r.status_code in (201, 404), r.text
    return r.status_code


async def test_a_need_opened_to_its_street_is_claimed_by_the_next_community_not_beyond(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    neighbour = auth(settings, "volunteer", OTHER_COMMUNITY, sub="v-xinhua")
    far = auth(settings, "volunteer", OTHER_STREET_COMMUNITY, sub="v-nanhu")
    outsider = auth(settings, "volunteer", OTHER_DISTRICT_COMMUNITY, sub="v-meilin")
    known = (
        volunteer("v-xinhua", OTHER_COMMUNITY),
        volunteer("v-nanhu", OTHER_STREET_COMMUNITY),
        volunteer("v-meilin", OTHER_DISTRICT_COMMUNITY),
    )
    async with needs_service(settings, *known) as (_, client):
        own = await open_need(client, admin)
        street = await open_need(client, admin, openness="street", slots=2)
        listed = await client.get("/v1/needs", headers=neighbour)
        assert [n["id"] for n in listed.json()["items"]] == [street], listed.text
        assert await claim_as(client, own, "v-xinhua", neighbour) == 404  # not even visible
        assert await claim_as(client, street, "v-xinhua", neighbour) == 201
        assert await claim_as(client, street, "v-nanhu", far) == 404
        # opened to the district: the next street's volunteer claims, another district's not
        district = await open_need(client, admin, openness="district", slots=2)
        assert await claim_as(client, district, "v-nanhu", far) == 201
        assert await claim_as(client, district, "v-meilin", outsider) == 404
        bad = await client.post("/v1/needs", json=need_body(openness="city"), headers=admin)
        assert bad.status_code == 422 and "openness" in bad.text, bad.text
        listed = await client.get("/v1/needs", headers=admin)
        assert len(listed.json()["items"]) == 3  # the refused post changed nothing


async def test_the_districts_caps_bound_active_claims_per_volunteer_and_organisation(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    known = (
        volunteer("v1"),
        organization("org-1"),
        rules(volunteer_claim_cap=2, organization_claim_cap=1),
    )
    async with needs_service(settings, *known) as (_, client):
        needs = [await open_need(client, admin, slots=3) for _ in range(3)]
        for need_id in needs[:2]:
            r = await client.post(
                f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
            )
            assert r.status_code == 201, r.text
        third = await client.post(
            f"/v1/needs/{needs[2]}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert third.status_code == 409, third.text
        assert "上限 2" in third.json()["error"]["message"]
        # releasing one frees a place under the cap
        first = await client.get(f"/v1/needs/{needs[0]}", headers=admin)
        claim_id = first.json()["claims"][0]["id"]
        released = await client.delete(f"/v1/needs/{needs[0]}/claims/{claim_id}", headers=vol)
        assert released.status_code == 200, released.text
        again = await client.post(
            f"/v1/needs/{needs[2]}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert again.status_code == 201, again.text

        org = {"organization_id": "org-1", "slots": 1}
        assert (
            await client.post(f"/v1/needs/{needs[0]}/claims", json=org, headers=admin)
        ).status_code == 201
        capped = await client.post(f"/v1/needs/{needs[1]}/claims", json=org, headers=admin)
        assert capped.status_code == 409 and "上限 1" in capped.text, capped.text


async def test_thirty_concurrent_claims_by_one_volunteer_leave_exactly_the_cap_active(
    settings: Settings,
) -> None:
    """The default caps (5 per volunteer, 20 per organisation) rest on unique slot inserts:
    exact under concurrent claims, given back when a claim ends or a crash left one."""
    admin = auth(settings, "community_admin", COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    known = (volunteer("v1"), volunteer("v2"), organization("org-1"))
    async with needs_service(settings, *known) as (app, client):
        needs = [await open_need(client, admin, slots=2) for _ in range(30)]

        async def claim(need_id: str, body: dict[str, object], who: dict[str, str]) -> int:
            r = await client.post(f"/v1/needs/{need_id}/claims", json=body, headers=who)
            assert r.status_code in (201, 409), r.text
            assert r.status_code == 201 or "上限" in r.json()["error"]["message"], r.text
            return r.status_code

        mine = {"volunteer_id": "v1"}
        codes = await asyncio.gather(*(claim(n, mine, vol) for n in needs))
        assert sorted(codes) == [201] * 5 + [409] * 25
        org = {"organization_id": "org-1", "slots": 1}
        codes = await asyncio.gather(*(claim(n, org, admin) for n in needs))
        assert sorted(codes) == [201] * 20 + [409] * 10

        listed = await client.get("/v1/needs", params={"limit": 100}, headers=admin)
        active = [c for n in listed.json()["items"] for c in n["claims"] if c["status"] == "active"]
        assert sum("v1" in c["volunteer_ids"] for c in active) == 5
        assert sum(c["organization_id"] == "org-1" for c in active) == 20
        slots = app.state.runtime.db["claim_slots"]
        assert await slots.count_documents({}) == 25

        # a claim that ends gives its slot back
        of_v1 = {
            c["id"]: n["id"]
            for n in listed.json()["items"]
            for c in n["claims"]
            if "v1" in c["volunteer_ids"]
        }
        claim_id, held = next(iter(of_v1.items()))
        released = await client.delete(f"/v1/needs/{held}/claims/{claim_id}", headers=vol)
        assert released.status_code == 200, released.text
        free = [n for n in needs if n not in of_v1.values()]
        assert await claim(free[0], mine, vol) == 201
        assert await claim(free[1], mine, vol) == 409

        # slots a crash left behind (inserted, never committed) are taken back
        long_ago = datetime.now(UTC) - timedelta(hours=1)
        await slots.insert_many(
            [
                {
                    "_id": f"volunteer:v2:{n}",
                    "claim_id": f"lost-{n}",
                    "need_id": free[2],
                    "taken_at": long_ago,
                }
                for n in range(5)
            ]
        )
        v2 = auth(settings, "volunteer", COMMUNITY, sub="v2")
        assert await claim(free[2], {"volunteer_id": "v2"}, v2) == 201
        assert await slots.count_documents({"_id": {"$regex": "^volunteer:v2:"}}) == 1

        # claims made before the caps rested on slots take theirs at start
        await slots.drop()
        await app.state.runtime.db["claim_slot_sets"].drop()
        assert await commands.slot_earlier_claims(app.state.deps) == 5 + 20 + 1
        assert await commands.slot_earlier_claims(app.state.deps) == 0  # once
        assert await slots.count_documents({}) == 26
        assert await claim(free[3], mine, vol) == 409


async def test_a_two_person_job_done_by_one_completes_with_a_slot_unfilled(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1"), volunteer("v2")) as (_, client):
        need_id = await open_need(client, admin, slots=2)
        none_yet = await client.post(
            f"/v1/needs/{need_id}/completion", json={"hours": []}, headers=admin
        )
        assert none_yet.status_code == 409, none_yet.text
        r = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert r.status_code == 201 and r.json()["need_status"] == "open", r.text
        done = await client.post(
            f"/v1/needs/{need_id}/completion",
            json={"hours": [{"volunteer_id": "v1", "hours": 2}]},
            headers=vol,
        )
        assert done.status_code == 200, done.text
        body = done.json()
        assert body["status"] == "completed" and body["completion"]["slots_unfilled"] == 1

        # three planned, two claimed, one came: the admin completes with her; two unfilled
        third = await open_need(client, admin, slots=3)
        for v, who in (("v1", vol), ("v2", auth(settings, "volunteer", COMMUNITY, sub="v2"))):
            r = await client.post(
                f"/v1/needs/{third}/claims", json={"volunteer_id": v}, headers=who
            )
            assert r.status_code == 201, r.text
        done = await client.post(
            f"/v1/needs/{third}/completion",
            json={"hours": [{"volunteer_id": "v2", "hours": 1.5}]},
            headers=admin,
        )
        assert done.status_code == 200, done.text
        completion = done.json()["completion"]
        assert completion["slots_unfilled"] == 2
        assert [h["volunteer_id"] for h in completion["hours"]] == ["v2"]


async def test_expired_claims_count_against_nobody_and_are_shown_to_admins(
    settings: Settings,
) -> None:
    fast = settings.model_copy(update={"claim_expiry_check_s": 0.1})
    clock = ManualClock(datetime.now(UTC))
    admin = auth(settings, "community_admin", COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    known = (volunteer("v1"), rules(volunteer_claim_cap=1))
    async with needs_service(fast, *known, clock=clock) as (_, client):
        lapsed = await open_need(client, admin)
        r = await client.post(
            f"/v1/needs/{lapsed}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert r.status_code == 201, r.text
        clock.advance(timedelta(days=15))

        async def expired() -> bool:
            listed = await client.get("/v1/needs", params={"claims_expired": "true"}, headers=admin)
            return [n["id"] for n in listed.json()["items"]] == [lapsed]

        await eventually(expired, timeout=30)
        admin_view = (await client.get(f"/v1/needs/{lapsed}", headers=admin)).json()
        assert [c["release_reason"] for c in admin_view["claims"]] == ["expired"]
        own_view = (await client.get(f"/v1/needs/{lapsed}", headers=vol)).json()
        assert own_view["claims"] == []
        forbidden = await client.get("/v1/needs", params={"claims_expired": "true"}, headers=vol)
        assert forbidden.status_code == 403
        # the expired claim is not held against the volunteer: a cap of 1 lets them claim
        fresh = await open_need(client, admin)
        again = await client.post(
            f"/v1/needs/{fresh}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert again.status_code == 201, again.text
