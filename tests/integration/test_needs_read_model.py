"""The needs service learns volunteers, teams and organisations from the volunteers
stream alone, idempotently, and an older event never undoes a newer one."""

from __future__ import annotations

from datetime import timedelta

import httpx

from shared.events.volunteers import TeamLeaderChanged, TeamMemberJoined, VolunteerUpdated
from shared.settings import Settings
from tests.helpers import auth
from tests.needs_support import (
    COMMUNITY,
    make_known,
    need_body,
    needs_service,
    now,
    team,
    volunteer,
)


async def open_need(client: httpx.AsyncClient, settings: Settings, slots: int = 3) -> str:
    admin = auth(settings, "community_admin", COMMUNITY)
    need_id = str(
        (await client.post("/v1/needs", json=need_body(slots=slots), headers=admin)).json()["id"]
    )
    await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
    return need_id


async def test_a_deactivated_volunteer_stays_deactivated_when_an_older_event_comes_again(
    settings: Settings,
) -> None:
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    registered = volunteer("v1")
    async with needs_service(settings, registered) as (app, client):
        deactivated = VolunteerUpdated(
            **{**registered.model_dump(), "active": False},
            updated_at=registered.registered_at + timedelta(minutes=5),
        )
        # the deactivation, then a replay of the registration (another event id, older time)
        await make_known(app, settings, deactivated, registered, registered)
        docs = await app.state.deps.directory.volunteers.count_documents({})
        assert docs == 1
        need_id = await open_need(client, settings)
        resp = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert resp.status_code == 409, resp.text
        assert "inactive" in resp.json()["error"]["message"]


async def test_team_members_and_leader_follow_the_team_events(settings: Settings) -> None:
    old_leader = auth(settings, "volunteer", COMMUNITY, sub="lead")
    new_leader = auth(settings, "volunteer", COMMUNITY, sub="m1")
    known = (volunteer("lead"), volunteer("m1"), volunteer("m2"), team("t1", "lead", ["m1"]))
    async with needs_service(settings, *known) as (app, client):
        need_id = await open_need(client, settings)
        url = f"/v1/needs/{need_id}/claims"
        before_join = await client.post(
            url, json={"team_id": "t1", "member_ids": ["m2"]}, headers=old_leader
        )
        assert before_join.status_code == 422

        joined = TeamMemberJoined(
            team_id="t1", community_id=COMMUNITY, volunteer_id="m2", joined_at=now()
        )
        changed = TeamLeaderChanged(
            team_id="t1",
            community_id=COMMUNITY,
            leader_id="m1",
            previous_leader_id="lead",
            changed_at=now(),
        )
        await make_known(app, settings, joined, joined, changed)  # a duplicate changes nothing
        directory = app.state.deps.directory
        stored = await directory.team_members.find({"team_id": "t1"}).to_list()
        assert sorted(d["volunteer_id"] for d in stored) == ["lead", "m1", "m2"]

        by_old = await client.post(
            url, json={"team_id": "t1", "member_ids": ["m2"]}, headers=old_leader
        )
        assert by_old.status_code == 403
        by_new = await client.post(
            url, json={"team_id": "t1", "member_ids": ["m1", "m2"]}, headers=new_leader
        )
        assert by_new.status_code == 201, by_new.text
        assert by_new.json()["slots"] == 2


async def test_a_team_joined_by_many_is_one_small_document_and_one_document_per_member(
    settings: Settings,
) -> None:
    joins = [
        TeamMemberJoined(
            team_id="t-big", community_id=COMMUNITY, volunteer_id=f"m{i}", joined_at=now()
        )
        for i in range(1, 60)
    ]
    async with needs_service(settings, volunteer("lead"), team("t-big", "lead", ["m0"])) as (
        app,
        _,
    ):
        directory = app.state.deps.directory
        before = await directory.teams.find_one({"_id": "t-big"})
        await make_known(app, settings, *joins)
        after = await directory.teams.find_one({"_id": "t-big"})
        assert after == before and "member_ids" not in after  # joins never touch it
        assert await directory.team_members.count_documents({"team_id": "t-big"}) == 61
        known = await directory.team("t-big", ["m5", "m59", "stranger", "m5"])
        assert known is not None and known.member_ids == ("m5", "m59")
