"""Reporting in, profiles, search, organisations and teams on the real FerretDB and Kafka."""

from __future__ import annotations

import httpx

from services.volunteers.app import create_app
from shared.settings import Settings
from tests.helpers import auth, events_of, read_topic, running

COMMUNITY = "zhongshan.hongyan.dongfeng"
NEIGHBOUR = "zhongshan.hongyan.xinhua"


async def seed_tree(client: httpx.AsyncClient, settings: Settings) -> None:
    service = auth(settings, "service", "zhongshan")
    for path in ("zhongshan", "zhongshan.hongyan", COMMUNITY, NEIGHBOUR):
        r = await client.put(f"/v1/orgs/{path}", json={"name": path}, headers=service)
        assert r.status_code == 201, r.text


def report_in(
    name: str, phone: str, community: str = COMMUNITY, **extra: object
) -> dict[str, object]:
    return {
        "name": name,
        "phone": phone,
        "home_community_id": community,
        "party_org": "区税务局机关党支部",
        "skills": ["法律咨询"],
        "pledge_signed": True,
        **extra,
    }


async def test_one_report_in_per_phone_per_community_and_phones_masked_for_others(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    async with running(create_app(settings)) as client:
        await seed_tree(client, settings)
        r = await client.post(
            "/v1/volunteers", json=report_in("李红", "138 1234 5678"), headers=admin
        )
        assert r.status_code == 201, r.text
        li = r.json()
        assert li["phone"] == "13812345678" and li["active"] is True

        # the same phone, written differently, in the same community
        r = await client.post(
            "/v1/volunteers", json=report_in("李红", "+8613812345678"), headers=admin
        )
        assert r.status_code == 409
        assert r.json()["error"]["details"] == {"volunteer_id": li["id"]}
        # the same phone in another community is another report-in
        neighbour_admin = auth(settings, "community_admin", NEIGHBOUR)
        r = await client.post(
            "/v1/volunteers",
            json=report_in("李红", "13812345678", NEIGHBOUR),
            headers=neighbour_admin,
        )
        assert r.status_code == 201 and r.json()["id"] != li["id"]

        refused = [
            (report_in("王", "13900000000", pledge_signed=False), 422, "pledge_signed"),
            (report_in("王", "13900000000", "zhongshan.hongyan.nowhere"), 422, "home_community_id"),
            (report_in("王", "12345"), 422, "phone"),
        ]
        street_admin = auth(settings, "street_admin", "zhongshan.hongyan")
        for body, status, field in refused:
            r = await client.post("/v1/volunteers", json=body, headers=street_admin)
            assert r.status_code == status, r.text
            details = r.json()["error"]["details"]  # a rule's refusal, or the schema's
            named = [details] if isinstance(details, dict) else details
            assert field in [d["field"] for d in named], r.text
        # an admin of another community may not report people in here
        r = await client.post(
            "/v1/volunteers", json=report_in("王", "13900000000"), headers=neighbour_admin
        )
        assert r.status_code == 403

        # who sees the phone: the admin and the volunteer whole, a neighbour masked
        self_token = auth(settings, "volunteer", COMMUNITY, sub=li["id"])
        peer = auth(settings, "volunteer", COMMUNITY)
        for headers, phone in (
            (admin, "13812345678"),
            (self_token, "13812345678"),
            (peer, "138****5678"),
        ):
            r = await client.get(f"/v1/volunteers/{li['id']}", headers=headers)
            assert r.status_code == 200 and r.json()["phone"] == phone
        # outside the caller's scope the volunteer does not exist
        outsider = auth(settings, "community_admin", NEIGHBOUR)
        assert (await client.get(f"/v1/volunteers/{li['id']}", headers=outsider)).status_code == 404

        # profile change by the volunteer; phone is not a profile field
        r = await client.patch(
            f"/v1/volunteers/{li['id']}", json={"skills": ["法律咨询", "书法"]}, headers=self_token
        )
        assert r.status_code == 200 and r.json()["skills"] == ["legal_advice", "书法"]
        r = await client.patch(
            f"/v1/volunteers/{li['id']}", json={"phone": "1"}, headers=self_token
        )
        assert r.status_code == 422
        r = await client.post(f"/v1/volunteers/{li['id']}/deactivate", headers=self_token)
        assert r.status_code == 200 and r.json()["active"] is False
        # reactivation is the committee's
        r = await client.post(f"/v1/volunteers/{li['id']}/reactivate", headers=self_token)
        assert r.status_code == 403

    events = events_of(await read_topic(settings, settings.topics.volunteers, expect=8))
    mine = [e for e in events if e.subject == li["id"]]
    assert [e.type for e in mine] == [
        "org.tongxin.volunteer.registered",
        "org.tongxin.volunteer.updated",
        "org.tongxin.volunteer.updated",
    ]
    assert mine[0].data["home_community_id"] == COMMUNITY and mine[0].community == COMMUNITY
    assert mine[2].data["active"] is False and mine[2].data["skills"] == ["legal_advice", "书法"]
    assert all("13812345678" not in e.model_dump_json() for e in events)


async def test_volunteers_are_listed_by_scope_skill_and_name_page_by_page(
    settings: Settings,
) -> None:
    admin = auth(settings, "street_admin", "zhongshan.hongyan")
    async with running(create_app(settings)) as client:
        await seed_tree(client, settings)
        people = [
            ("李红", "13800000001", COMMUNITY, ["法律咨询"]),
            ("李明", "13800000002", COMMUNITY, ["唱歌"]),
            ("王芳", "13800000003", COMMUNITY, ["法律咨询", "唱歌"]),
            ("赵强", "13800000004", NEIGHBOUR, ["法律咨询"]),
        ]
        for name, phone, community, skills in people:
            body = report_in(name, phone, community, skills=skills)
            assert (
                await client.post("/v1/volunteers", json=body, headers=admin)
            ).status_code == 201

        async def names(params: dict[str, str | int], headers: dict[str, str] = admin) -> set[str]:
            r = await client.get("/v1/volunteers", params=params, headers=headers)
            assert r.status_code == 200, r.text
            return {v["name"] for v in r.json()["items"]}

        assert await names({"scope": "zhongshan.hongyan"}) == {"李红", "李明", "王芳", "赵强"}
        assert await names({"scope": COMMUNITY, "skill": "法律咨询"}) == {"李红", "王芳"}
        assert await names({"q": "李"}) == {"李红", "李明"}
        # a community admin sees their community by default, and not the street
        community_admin = auth(settings, "community_admin", NEIGHBOUR)
        assert await names({}, community_admin) == {"赵强"}
        r = await client.get(
            "/v1/volunteers", params={"scope": "zhongshan"}, headers=community_admin
        )
        assert r.status_code == 403

        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, str | int] = {"scope": "zhongshan", "limit": 3}
            if cursor:
                params["cursor"] = cursor
            page = (
                await client.get(
                    "/v1/volunteers", params=params, headers=auth(settings, "service", "zhongshan")
                )
            ).json()
            seen += [v["id"] for v in page["items"]]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert len(seen) == len(set(seen)) == 4


async def test_teams_take_members_of_their_community_and_a_member_takes_the_lead(
    settings: Settings,
) -> None:
    admin = auth(settings, "street_admin", "zhongshan.hongyan")
    async with running(create_app(settings)) as client:
        await seed_tree(client, settings)
        ids = {}
        for name, phone, community in (
            ("队长", "13800000001", COMMUNITY),
            ("队员", "13800000002", COMMUNITY),
            ("邻居", "13800000003", NEIGHBOUR),
        ):
            r = await client.post(
                "/v1/volunteers", json=report_in(name, phone, community), headers=admin
            )
            ids[name] = r.json()["id"]

        r = await client.post(
            "/v1/organizations",
            json={"name": "中山供电公司", "kind": "enterprise", "community_id": COMMUNITY},
            headers=admin,
        )
        assert r.status_code == 201, r.text
        org = r.json()
        again = await client.post(
            "/v1/organizations",
            json={"name": "中山供电公司", "kind": "enterprise", "community_id": COMMUNITY},
            headers=admin,
        )
        assert again.status_code == 409
        assert again.json()["error"]["details"] == {"organization_id": org["id"]}

        team_body = {
            "community_id": COMMUNITY,
            "name": "东风矛盾调解队",
            "service_type": "dispute_mediation",
            "leader_id": ids["队长"],
        }
        r = await client.post(
            "/v1/teams", json={**team_body, "service_type": "childcare"}, headers=admin
        )
        assert r.status_code == 422  # not a team service type
        r = await client.post("/v1/teams", json=team_body, headers=admin)
        assert r.status_code == 201, r.text
        team = r.json()
        assert team["member_ids"] == [ids["队长"]]

        leader = auth(settings, "volunteer", COMMUNITY, sub=ids["队长"])
        members = f"/v1/teams/{team['id']}/members"
        r = await client.post(members, json={"volunteer_id": ids["邻居"]}, headers=leader)
        assert r.status_code == 422
        assert r.json()["error"]["details"]["volunteer_community"] == NEIGHBOUR
        r = await client.put(
            f"/v1/teams/{team['id']}/leader", json={"volunteer_id": ids["队员"]}, headers=leader
        )
        assert r.status_code == 409  # not a member yet
        r = await client.post(members, json={"volunteer_id": ids["队员"]}, headers=leader)
        assert r.status_code == 201 and r.json()["member_ids"] == [ids["队长"], ids["队员"]]
        r = await client.post(members, json={"volunteer_id": ids["队员"]}, headers=leader)
        assert r.status_code == 200  # already a member: nothing changes
        r = await client.put(
            f"/v1/teams/{team['id']}/leader", json={"volunteer_id": ids["队员"]}, headers=leader
        )
        assert r.status_code == 200 and r.json()["leader_id"] == ids["队员"]
        # the former leader no longer manages the team
        r = await client.put(
            f"/v1/teams/{team['id']}/leader", json={"volunteer_id": ids["队长"]}, headers=leader
        )
        assert r.status_code == 403
        outsider = auth(settings, "community_admin", NEIGHBOUR)
        assert (await client.get(f"/v1/teams/{team['id']}", headers=outsider)).status_code == 404
        listed = await client.get("/v1/teams", params={"scope": COMMUNITY}, headers=admin)
        assert [t["id"] for t in listed.json()["items"]] == [team["id"]]

    events = events_of(await read_topic(settings, settings.topics.volunteers, expect=11))
    team_events = [e for e in events if e.subject == team["id"]]
    assert [e.type for e in team_events] == [
        "org.tongxin.team.formed",
        "org.tongxin.team.member_joined",
        "org.tongxin.team.leader_changed",
    ]
    assert team_events[2].data["previous_leader_id"] == ids["队长"]
    assert [e.type for e in events if e.subject == org["id"]] == [
        "org.tongxin.organization.registered"
    ]
