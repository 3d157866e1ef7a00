"""The authorization matrix at field level (shared.visibility): for each role, which
personal fields of a volunteer and of a need's requester it reads whole, and what the
public volunteers stream carries."""

from __future__ import annotations

import json
from typing import Any

from services.volunteers.app import create_app
from shared.settings import Settings
from tests.helpers import auth, events_of, free_port, read_topic, running
from tests.integration.test_notify_support import (
    A,
    claimed,
    notify_service,
    notify_settings,
    publish,
    publisher,
)
from tests.integration.test_volunteers_registry import COMMUNITY, NEIGHBOUR, report_in, seed_tree
from tests.needs_support import PHONE, need_body, needs_service, volunteer

HOME = {"lat": 22.543123, "lon": 114.057865}
COARSE = {"lat": 22.54, "lon": 114.06}
WHOLE = {"name": "李红梅", "phone": "13812345678", "party_org": "区税务局机关党支部"}
MASKED = {"name": "李**", "phone": "138****5678", "party_org": None}


def personal(v: dict[str, Any]) -> dict[str, Any]:
    return {k: v[k] for k in ("name", "phone", "party_org", "location")}


async def test_volunteer_fields_whole_for_admins_in_scope_and_self_coarse_for_others(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    async with running(create_app(settings)) as client:
        await seed_tree(client, settings)
        resp = await client.post(
            "/v1/volunteers", json=report_in("李红梅", PHONE, location=HOME), headers=admin
        )
        assert resp.status_code == 201, resp.text
        vid = resp.json()["id"]
        matrix = {
            "community_admin": (auth(settings, "community_admin", COMMUNITY), True),
            "street_admin": (auth(settings, "street_admin", "zhongshan.hongyan"), True),
            "district_admin": (auth(settings, "district_admin", "zhongshan"), True),
            "the volunteer": (auth(settings, "volunteer", COMMUNITY, sub=vid), True),
            "another volunteer": (auth(settings, "volunteer", COMMUNITY, sub="v-other"), False),
            "resident": (auth(settings, "resident", COMMUNITY, sub="res-1"), False),
            "operator": (auth(settings, "operator", "zhongshan"), False),
        }
        for who, (headers, whole) in matrix.items():
            resp = await client.get(f"/v1/volunteers/{vid}", headers=headers)
            assert resp.status_code == 200, (who, resp.text)
            expected = {**WHOLE, "location": HOME} if whole else {**MASKED, "location": COARSE}
            assert personal(resp.json()) == expected, who
            listed = await client.get(
                "/v1/volunteers", params={"scope": COMMUNITY}, headers=headers
            )
            if listed.status_code == 200:
                [item] = [v for v in listed.json()["items"] if v["id"] == vid]
                assert personal(item) == expected, who
        other_admin = auth(settings, "community_admin", NEIGHBOUR)
        assert (await client.get(f"/v1/volunteers/{vid}", headers=other_admin)).status_code in (
            403,
            404,
        )
    records = await read_topic(settings, settings.topics.volunteers, expect=5, timeout=10)
    [registered] = [e for e in events_of(records) if e.type == "org.tongxin.volunteer.registered"]
    data = registered.data
    assert data["name"] == "李**" and data["party_org"] is None
    assert data["location"] == COARSE and "phone" not in data


async def test_requester_fields_whole_for_admins_claimers_and_the_requester(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    admin = auth(settings, "community_admin", COMMUNITY)
    claimer = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1"), volunteer("v2")) as (_, client):
        body = need_body(slots=2, location=HOME)
        need_id = (await client.post("/v1/needs", json=body, headers=resident)).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        resp = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=claimer
        )
        assert resp.status_code == 201, resp.text
        whole = {"name": "王阿姨", "phone": PHONE, "location": HOME}
        masked = {"name": "王**", "phone": "138****5678", "location": COARSE}
        matrix = {
            "the requester": (resident, whole),
            "community_admin": (admin, whole),
            "street_admin": (auth(settings, "street_admin", "zhongshan.hongyan"), whole),
            "active claimer": (claimer, whole),
            "another volunteer": (auth(settings, "volunteer", COMMUNITY, sub="v2"), masked),
            "another resident": (auth(settings, "resident", COMMUNITY, sub="res-2"), masked),
            "operator": (auth(settings, "operator", "zhongshan"), masked),
        }
        for who, (headers, expected) in matrix.items():
            resp = await client.get(f"/v1/needs/{need_id}", headers=headers)
            assert resp.status_code == 200, (who, resp.text)
            need = resp.json()
            seen = {**need["requester"], "location": need["location"]}
            assert seen == expected, who


async def test_dead_letters_keep_contact_targets_masked(settings: Settings) -> None:
    s = notify_settings(
        settings,
        notify_max_attempts=2,
        notify_retry_base_s=0.05,
        notify_retry_max_s=0.1,
        smtp_port=free_port(),  # nobody listens: every attempt fails
        smtp_timeout_s=2,
    )
    async with publisher(s) as kafka, notify_service(s) as (client, _, _app):
        resp = await client.post(
            "/v1/subscriptions",
            json={
                "recipient_id": "admin-dongfeng",
                "channel": "email",
                "target": "admin.wang@example.com",
                "event_types": ["org.tongxin.project.claimed"],
                "scope": A,
            },
            headers=auth(s, "community_admin", A, "admin-dongfeng"),
        )
        assert resp.status_code == 201, resp.text
        await publish(kafka, s, claimed(A))
        dead = await read_topic(s, s.topics.dlq(s.topics.notify), expect=1, timeout=60)
    assert len(dead) == 1
    raw = dead[0].value + b"".join(v for _, v in dead[0].headers)
    assert b"admin.wang@example.com" not in raw
    assert json.loads(dead[0].value)["target"] == "a***@example.com"
