"""A need's life over HTTP on the real FerretDB and Kafka: every transition, its rules,
and the event it publishes through the outbox.

Long because it walks every transition of the lifecycle, one test each.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clock import ManualClock
from shared.events.envelope import CloudEvent
from shared.settings import Settings
from tests.helpers import auth, events_of, eventually, read_topic
from tests.needs_support import (
    COMMUNITY,
    PHONE,
    make_known,
    need_body,
    needs_service,
    organization,
    team,
    volunteer,
)

ADMIN = "community_admin"


async def events_for(settings: Settings, need_id: str, expect: int) -> list[CloudEvent]:
    records = await read_topic(settings, settings.topics.needs, expect=expect, timeout=20)
    return [e for e in events_of(records) if e.subject == need_id]


async def test_a_need_goes_from_posted_to_confirmed_publishing_one_event_per_step(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-wang")
    admin = auth(settings, ADMIN, COMMUNITY, sub="admin-li")
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1")) as (_, client):
        resp = await client.post("/v1/needs", json=need_body(), headers=resident)
        assert resp.status_code == 201, resp.text
        need_id = resp.json()["id"]
        assert resp.json()["status"] == "pending_review"

        resp = await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "open"

        resp = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert resp.status_code == 201, resp.text
        claim = resp.json()
        assert (claim["status"], claim["need_status"], claim["slots_taken"]) == (
            "active",
            "claimed",
            1,
        )

        completion = {
            "hours": [{"volunteer_id": "v1", "hours": 2.5}],
            "beneficiaries_served": 1,
            "goods_count": 12,
            "funds_cents": 35_000,
            "note": "年货已送到",
            "evidence_urls": ["https://example.org/photo/1.jpg"],
        }
        resp = await client.post(f"/v1/needs/{need_id}/completion", json=completion, headers=vol)
        assert resp.status_code == 200, resp.text
        done = resp.json()
        assert done["status"] == "completed"
        assert [c["status"] for c in done["claims"]] == ["completed"]

        resp = await client.post(
            f"/v1/needs/{need_id}/confirmation",
            json={"rating": 5, "comment": "谢谢"},
            headers=resident,
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["status"] == "confirmed"
        assert resp.json()["confirmation"]["rating"] == 5

        events = await events_for(settings, need_id, expect=6)
        assert [e.type.removeprefix("org.tongxin.") for e in events] == [
            "need.posted",
            "need.approved",
            "project.claimed",
            "task.completed",
            "task.confirmed",
            "hours.verified",  # the resident's confirmation verifies the declared hours
        ]
        assert all(PHONE not in e.model_dump_json() and "phone" not in e.data for e in events)
        assert len({e.correlationid for e in events}) == 5  # one request each
        claimed, completed = events[2].data, events[3].data
        assert claimed["claim_id"] == claim["id"] and claimed["volunteer_ids"] == ["v1"]
        assert (claimed["slots_taken"], claimed["slots_total"], claimed["need_status"]) == (
            1,
            1,
            "claimed",
        )
        assert completed["hours"] == [{"volunteer_id": "v1", "hours": 2.5}]
        assert (completed["goods_count"], completed["funds_cents"]) == (12, 35_000)
        assert completed["claim_ids"] == [claim["id"]]
        assert events[4].data["volunteer_ids"] == ["v1"] and events[4].data["rating"] == 5


async def test_transitions_from_a_state_the_contract_does_not_name_answer_409_with_that_state(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    admin = auth(settings, ADMIN, COMMUNITY)
    async with needs_service(settings, organization("o1")) as (_, client):
        need_id = (await client.post("/v1/needs", json=need_body(), headers=resident)).json()["id"]
        checks: list[tuple[str, dict[str, Any] | None, dict[str, str], str]] = [
            ("claims", {"organization_id": "o1"}, admin, "pending_review"),
            ("completion", {}, admin, "pending_review"),
            ("confirmation", {"rating": 3}, resident, "pending_review"),
        ]
        for path, body, headers, state in checks:
            resp = await client.post(f"/v1/needs/{need_id}/{path}", json=body, headers=headers)
            assert resp.status_code == 409, (path, resp.text)
            assert resp.json()["error"]["details"]["status"] == state

        resp = await client.post(
            f"/v1/needs/{need_id}/reject", json={"reason": "不属于服务范围"}, headers=admin
        )
        assert resp.status_code == 200, resp.text
        assert resp.json()["review"]["reason"] == "不属于服务范围"
        for path in ("approve", "reject", "cancel"):
            resp = await client.post(
                f"/v1/needs/{need_id}/{path}", json={"reason": "again"}, headers=admin
            )
            assert resp.status_code == 409, (path, resp.text)
            error = resp.json()["error"]
            assert error["details"]["status"] == "rejected"
            assert "rejected" in error["message"]


async def test_rejecting_requires_a_reason(settings: Settings) -> None:
    admin = auth(settings, ADMIN, COMMUNITY)
    async with needs_service(settings) as (_, client):
        need_id = (await client.post("/v1/needs", json=need_body(), headers=admin)).json()["id"]
        for body in (None, {}, {"reason": "   "}):
            resp = await client.post(f"/v1/needs/{need_id}/reject", json=body, headers=admin)
            assert resp.status_code == 422, resp.text
        resp = await client.get(f"/v1/needs/{need_id}", headers=admin)
        assert resp.json()["status"] == "pending_review"


async def test_releasing_a_claim_reopens_its_slot_and_the_volunteer_may_claim_again(
    settings: Settings,
) -> None:
    admin = auth(settings, ADMIN, COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1")) as (_, client):
        need_id = (await client.post("/v1/needs", json=need_body(), headers=admin)).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        claim = (
            await client.post(
                f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
            )
        ).json()
        assert claim["need_status"] == "claimed"

        resp = await client.delete(f"/v1/needs/{need_id}/claims/{claim['id']}", headers=vol)
        assert resp.status_code == 200, resp.text
        need = resp.json()
        assert (need["status"], need["slots_taken"]) == ("open", 0)
        assert need["claims"][0]["status"] == "released"
        assert need["claims"][0]["release_reason"] == "released"

        again = await client.delete(f"/v1/needs/{need_id}/claims/{claim['id']}", headers=vol)
        assert again.status_code == 409
        assert again.json()["error"]["details"]["claim_status"] == "released"
        unknown = await client.delete(f"/v1/needs/{need_id}/claims/nope", headers=vol)
        assert unknown.status_code == 404

        resp = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert resp.status_code == 201, resp.text

        events = await events_for(settings, need_id, expect=5)
        released = [e for e in events if e.type == "org.tongxin.project.claim_released"]
        assert len(released) == 1
        assert released[0].data["reason"] == "released"
        assert released[0].data["need_status"] == "open"
        assert released[0].data["slots_taken"] == 0


async def test_a_volunteer_holds_at_most_one_active_claim_on_a_need(settings: Settings) -> None:
    admin = auth(settings, ADMIN, COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    leader = auth(settings, "volunteer", COMMUNITY, sub="lead")
    known = (volunteer("v1"), volunteer("lead"), team("t1", "lead", ["v1", "lead"]))
    async with needs_service(settings, *known) as (_, client):
        body = need_body(slots=5)
        need_id = (await client.post("/v1/needs", json=body, headers=admin)).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        first = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert first.status_code == 201
        second = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert second.status_code == 409
        assert second.json()["error"]["details"]["volunteer_ids"] == ["v1"]
        # nor through a team claim listing them
        by_team = await client.post(
            f"/v1/needs/{need_id}/claims",
            json={"team_id": "t1", "member_ids": ["lead", "v1"]},
            headers=leader,
        )
        assert by_team.status_code == 409
        need = (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()
        assert (need["slots_taken"], len(need["claims"])) == (1, 1)


async def test_a_team_leader_claims_one_slot_per_listed_member_of_their_team(
    settings: Settings,
) -> None:
    admin = auth(settings, ADMIN, COMMUNITY)
    leader = auth(settings, "volunteer", COMMUNITY, sub="lead")
    member = auth(settings, "volunteer", COMMUNITY, sub="m1")
    known = (
        volunteer("lead"),
        volunteer("m1"),
        volunteer("m2"),
        volunteer("outsider"),
        team("t1", "lead", ["lead", "m1", "m2"]),
    )
    async with needs_service(settings, *known) as (_, client):
        need_id = (
            await client.post("/v1/needs", json=need_body(slots=3, kind="project"), headers=admin)
        ).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        url = f"/v1/needs/{need_id}/claims"

        not_leader = await client.post(
            url, json={"team_id": "t1", "member_ids": ["m1"]}, headers=member
        )
        assert not_leader.status_code == 403
        stranger = await client.post(
            url, json={"team_id": "t1", "member_ids": ["m1", "outsider"]}, headers=leader
        )
        assert stranger.status_code == 422
        assert stranger.json()["error"]["details"]["volunteer_ids"] == ["outsider"]
        twice = await client.post(
            url, json={"team_id": "t1", "member_ids": ["m1", "m2", "m2"]}, headers=leader
        )
        assert twice.status_code == 422
        need = (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()
        assert need["claims"] == []

        resp = await client.post(
            url, json={"team_id": "t1", "member_ids": ["m1", "m2"]}, headers=leader
        )
        assert resp.status_code == 201, resp.text
        claim = resp.json()
        assert (claim["claimant_type"], claim["slots"], claim["team_id"]) == ("team", 2, "t1")
        assert claim["volunteer_ids"] == ["m1", "m2"] and claim["claimed_by"] == "lead"
        assert (claim["need_status"], claim["slots_taken"]) == ("open", 2)

        # the leader, not the member, records the team's completion
        body = {"hours": [{"volunteer_id": "m1", "hours": 3}, {"volunteer_id": "m2", "hours": 4}]}
        full = await client.post(
            url, json={"volunteer_id": "lead"}, headers=leader
        )  # the last slot
        assert full.status_code == 201
        by_member = await client.post(f"/v1/needs/{need_id}/completion", json=body, headers=member)
        assert by_member.status_code == 403
        by_leader = await client.post(f"/v1/needs/{need_id}/completion", json=body, headers=leader)
        assert by_leader.status_code == 200, by_leader.text
        assert by_leader.json()["status"] == "completed"

        events = await events_for(settings, need_id, expect=5)
        completed = next(e for e in events if e.type == "org.tongxin.task.completed")
        assert completed.data["team_ids"] == ["t1"]
        assert completed.data["volunteer_ids"] == ["lead", "m1", "m2"]


async def test_an_admin_claims_slots_on_behalf_of_a_registered_organisation(
    settings: Settings,
) -> None:
    admin = auth(settings, ADMIN, COMMUNITY, sub="admin-1")
    async with needs_service(settings, organization("org-1")) as (_, client):
        need_id = (await client.post("/v1/needs", json=need_body(slots=3), headers=admin)).json()[
            "id"
        ]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        resp = await client.post(
            f"/v1/needs/{need_id}/claims",
            json={"organization_id": "org-1", "slots": 3},
            headers=admin,
        )
        assert resp.status_code == 201, resp.text
        claim = resp.json()
        assert (claim["claimant_type"], claim["organization_id"], claim["slots"]) == (
            "organization",
            "org-1",
            3,
        )
        assert claim["need_status"] == "claimed"
        again = await client.post(
            f"/v1/needs/{need_id}/claims", json={"organization_id": "org-1"}, headers=admin
        )
        assert again.status_code == 409


async def test_claimants_and_communities_not_known_yet_are_refused_with_a_clear_error(
    settings: Settings,
) -> None:
    admin = auth(settings, ADMIN, "zhongshan")
    stranger = auth(settings, "volunteer", COMMUNITY, sub="v-unknown")
    async with needs_service(settings) as (app, client):
        resp = await client.post(
            "/v1/needs", json=need_body("zhongshan.hongyan.nowhere"), headers=admin
        )
        assert resp.status_code == 422
        assert "community_id" in resp.json()["error"]["message"]
        assert "not known" in resp.json()["error"]["message"]

        need_id = (await client.post("/v1/needs", json=need_body(slots=2), headers=admin)).json()[
            "id"
        ]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        url = f"/v1/needs/{need_id}/claims"
        for body, headers, field in (
            ({"volunteer_id": "v-unknown"}, stranger, "volunteer_id"),
            ({"team_id": "t-unknown", "member_ids": ["v-unknown"]}, stranger, "team_id"),
            ({"organization_id": "o-unknown"}, admin, "organization_id"),
        ):
            resp = await client.post(url, json=body, headers=headers)
            assert resp.status_code == 422, resp.text
            error = resp.json()["error"]
            assert error["details"]["field"] == field
            assert "not known yet" in error["message"]

        # once the volunteers stream tells of them, the same claim succeeds
        await make_known(app, settings, volunteer("v-unknown"))
        resp = await client.post(url, json={"volunteer_id": "v-unknown"}, headers=stranger)
        assert resp.status_code == 201, resp.text
        need = (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()
        assert len(need["claims"]) == 1


async def test_a_volunteer_claims_only_needs_of_their_home_community(settings: Settings) -> None:
    admin = auth(settings, "street_admin", "zhongshan.hongyan")
    # the token's scope covers the need, but the volunteer reported to another community
    vol = auth(settings, "volunteer", "zhongshan.hongyan", sub="v-x")
    known = (volunteer("v-x", "zhongshan.hongyan.xinhua"),)
    async with needs_service(settings, *known) as (_, client):
        need_id = (await client.post("/v1/needs", json=need_body(), headers=admin)).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        resp = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v-x"}, headers=vol
        )
        assert resp.status_code == 403, resp.text
        assert "home community" in resp.json()["error"]["message"]


async def test_cancelling_an_open_need_ends_its_active_claims(settings: Settings) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    admin = auth(settings, ADMIN, COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1")) as (_, client):
        body = need_body(slots=2)
        need_id = (await client.post("/v1/needs", json=body, headers=resident)).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        await client.post(f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol)
        resp = await client.post(
            f"/v1/needs/{need_id}/cancel", json={"reason": "已由家人解决"}, headers=resident
        )
        assert resp.status_code == 200, resp.text
        need = resp.json()
        assert need["status"] == "cancelled" and need["slots_taken"] == 0
        assert need["claims"][0]["release_reason"] == "cancelled"
        assert need["cancellation"]["reason"] == "已由家人解决"
        events = await events_for(settings, need_id, expect=4)
        cancelled = events[-1]
        assert cancelled.type == "org.tongxin.need.cancelled"
        assert cancelled.data["previous_status"] == "open"
        assert cancelled.data["volunteer_ids"] == ["v1"]


async def test_same_idempotency_key_and_body_answers_the_first_response_and_stores_one_need(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-key")
    keyed = {**resident, "Idempotency-Key": "wish-2025-001"}
    async with needs_service(settings) as (app, client):
        first = await client.post("/v1/needs", json=need_body(), headers=keyed)
        assert first.status_code == 201
        replies = await asyncio.gather(
            *(client.post("/v1/needs", json=need_body(), headers=keyed) for _ in range(5))
        )
        assert [r.status_code for r in replies] == [201] * 5
        assert all(r.json() == first.json() for r in replies)
        assert all(r.headers.get("idempotent-replayed") == "true" for r in replies)

        other = await client.post("/v1/needs", json=need_body(title="另一件事"), headers=keyed)
        assert other.status_code == 409
        assert other.json()["error"]["details"]["need_id"] == first.json()["id"]

        # the key is the caller's own: another resident's same key is another need
        neighbour = {**auth(settings, "resident", COMMUNITY), "Idempotency-Key": "wish-2025-001"}
        theirs = await client.post("/v1/needs", json=need_body(), headers=neighbour)
        assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]

        heads = app.state.deps.repo.store.heads
        assert await heads.count_documents({}) == 2
        records = await read_topic(settings, settings.topics.needs, expect=2)
        assert len(records) == 2


async def test_concurrent_posts_with_one_idempotency_key_store_a_single_need(
    settings: Settings,
) -> None:
    keyed = {**auth(settings, "resident", COMMUNITY, sub="res-race"), "Idempotency-Key": "k-1"}
    async with needs_service(settings) as (app, client):
        replies = await asyncio.gather(
            *(client.post("/v1/needs", json=need_body(), headers=keyed) for _ in range(10))
        )
        assert {r.status_code for r in replies} == {201}
        assert len({r.json()["id"] for r in replies}) == 1
        assert await app.state.deps.repo.store.heads.count_documents({}) == 1
        assert len(await read_topic(settings, settings.topics.needs, expect=1)) == 1


async def test_requester_phone_is_whole_only_for_admins_in_scope_and_active_claimers(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    admin = auth(settings, ADMIN, COMMUNITY)
    street_admin = auth(settings, "street_admin", "zhongshan.hongyan")
    operator = auth(settings, "operator", "zhongshan")
    claimer = auth(settings, "volunteer", COMMUNITY, sub="v1")
    other_vol = auth(settings, "volunteer", COMMUNITY, sub="v2")
    async with needs_service(settings, volunteer("v1"), volunteer("v2")) as (_, client):
        body = need_body(slots=2)
        need_id = (await client.post("/v1/needs", json=body, headers=resident)).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        claim = (
            await client.post(
                f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=claimer
            )
        ).json()

        async def phone(headers: dict[str, str]) -> str:
            resp = await client.get(f"/v1/needs/{need_id}", headers=headers)
            assert resp.status_code == 200, resp.text
            listed = await client.get("/v1/needs", headers=headers)
            [item] = [n for n in listed.json()["items"] if n["id"] == need_id]
            assert item["requester"]["phone"] == resp.json()["requester"]["phone"]
            return str(resp.json()["requester"]["phone"])

        assert await phone(admin) == PHONE
        assert await phone(street_admin) == PHONE
        assert await phone(claimer) == PHONE
        assert await phone(operator) == "138****5678"
        assert await phone(other_vol) == "138****5678"
        assert await phone(resident) == PHONE  # their own number (issue 18)

        await client.delete(f"/v1/needs/{need_id}/claims/{claim['id']}", headers=claimer)
        assert await phone(claimer) == "138****5678"  # no longer an active claimer


async def test_history_tells_who_did_what_when_and_why_to_admins_in_scope(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    admin = auth(settings, ADMIN, COMMUNITY, sub="admin-li")
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1")) as (_, client):
        need_id = (await client.post("/v1/needs", json=need_body(), headers=resident)).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        claim = (
            await client.post(
                f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
            )
        ).json()
        await client.delete(f"/v1/needs/{need_id}/claims/{claim['id']}", headers=admin)
        await client.post(f"/v1/needs/{need_id}/cancel", json={"reason": "居民撤回"}, headers=admin)

        resp = await client.get(f"/v1/needs/{need_id}/history", headers=admin)
        assert resp.status_code == 200, resp.text
        items = resp.json()["items"]
        assert [(i["version"], i["action"], i["actor"], i["status"]) for i in items] == [
            (1, "post", "res-1", "pending_review"),
            (2, "approve", "admin-li", "open"),
            (3, "claim", "v1", "claimed"),
            (4, "release", "admin-li", "open"),
            (5, "cancel", "admin-li", "cancelled"),
        ]
        assert items[4]["reason"] == "居民撤回"
        assert [i["claim_ids"] for i in items] == [[], [], [claim["id"]], [claim["id"]], []]
        assert items[3]["events"] == ["org.tongxin.project.claim_released"]
        times = [datetime.fromisoformat(i["at"]) for i in items]
        assert times == sorted(times)

        assert (
            await client.get(f"/v1/needs/{need_id}/history", headers=resident)
        ).status_code == 403


async def test_a_claim_not_completed_in_time_is_released_automatically_as_expired(
    settings: Settings,
) -> None:
    fast = settings.model_copy(update={"claim_expiry_check_s": 0.1, "claim_expiry_days": 7})
    clock = ManualClock(datetime.now(UTC))
    admin = auth(settings, ADMIN, COMMUNITY)
    v1 = auth(settings, "volunteer", COMMUNITY, sub="v1")
    v2 = auth(settings, "volunteer", COMMUNITY, sub="v2")
    due = (clock.now() + timedelta(days=3)).isoformat()
    known = (volunteer("v1"), volunteer("v2"))
    async with needs_service(fast, *known, clock=clock) as (_, client):
        # one need due in three days, one with no due date (the configured seven days apply)
        with_due = (
            await client.post("/v1/needs", json=need_body(due_at=due), headers=admin)
        ).json()["id"]
        without = (await client.post("/v1/needs", json=need_body(), headers=admin)).json()["id"]
        for need_id, headers in ((with_due, v1), (without, v2)):
            await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
            vid = "v1" if headers is v1 else "v2"
            resp = await client.post(
                f"/v1/needs/{need_id}/claims", json={"volunteer_id": vid}, headers=headers
            )
            assert resp.status_code == 201, resp.text

        async def status(need_id: str) -> str:
            resp = await client.get(f"/v1/needs/{need_id}", headers=admin)
            return str(resp.json()["status"])

        clock.advance(timedelta(days=3, seconds=1))
        await eventually_status(status, with_due, "open")
        assert await status(without) == "claimed"

        clock.advance(timedelta(days=4))
        await eventually_status(status, without, "open")
        need = (await client.get(f"/v1/needs/{without}", headers=admin)).json()
        assert need["claims"][0]["release_reason"] == "expired"
        assert need["claims"][0]["released_by"] == "system"

        records = await read_topic(settings, settings.topics.needs, expect=8)
        released = [e for e in events_of(records) if e.type.endswith("claim_released")]
        assert sorted(e.subject for e in released) == sorted([with_due, without])
        assert {e.data["reason"] for e in released} == {"expired"}


async def eventually_status(check: Any, need_id: str, expected: str) -> None:
    async def reached() -> bool:
        return bool(await check(need_id) == expected)

    await eventually(reached, timeout=15)


async def test_a_deployment_may_add_categories_of_its_own(settings: Settings) -> None:
    local = settings.model_copy(update={"extra_categories": ["garbage_sorting"]})
    admin = auth(settings, ADMIN, COMMUNITY)
    async with needs_service(local) as (_, client):
        resp = await client.post(
            "/v1/needs", json=need_body(category="garbage_sorting"), headers=admin
        )
        assert resp.status_code == 201, resp.text
        assert resp.json()["category"] == "garbage_sorting"
        resp = await client.post("/v1/needs", json=need_body(category="astrology"), headers=admin)
        assert resp.status_code == 422
        assert "garbage_sorting" in resp.json()["error"]["details"]["allowed"]
