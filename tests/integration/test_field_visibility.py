"""The authorization matrix at field level: for each role, how it stands to a volunteer's
record and to a need (self, admin in scope, claimer, other: refused), and each personal field
of the real response as shared.visibility.FIELD_MATRIX says that reader sees it; what the
public volunteers stream carries; dead letters masked."""

from __future__ import annotations

import json
from typing import Any

from services.volunteers.app import create_app
from shared.settings import Settings
from shared.visibility import FIELD_MATRIX, Reader, Record, Shown
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
from tests.needs_support import PHONE, need_body, needs_service, team, volunteer

HOME = {"lat": 22.543123, "lon": 114.057865}
COARSE = {"lat": 22.54, "lon": 114.06}
# What each field reads as, by how the matrix shows it to the reader.
VOLUNTEER_VALUES: dict[str, dict[Shown, Any]] = {
    "name": {"whole": "李红梅", "masked": "李**"},
    "phone": {"whole": "13812345678", "masked": "138****5678"},
    "location": {"whole": HOME, "coarse": COARSE},
    "party_org": {"whole": "区税务局机关党支部", "hidden": None},
}
NEED_VALUES: dict[str, dict[Shown, Any]] = {
    "requester.name": {"whole": "王阿姨", "masked": "王**"},
    "requester.phone": {"whole": PHONE, "masked": "138****5678"},
    "location": {"whole": HOME, "coarse": COARSE},
    "on_behalf_of.name": {"whole": "王阿姨", "masked": "王**"},
}
SELF = "<the person>"
# Each role as the brief lists them: (role, scope, sub) and how it stands to the record (a
# row of shared.visibility.FIELD_MATRIX), or the status it is refused with.
VOLUNTEER_READERS: dict[str, tuple[tuple[str, str, str] | None, Reader | int]] = {
    "anonymous": (None, 401),
    "resident": (("resident", COMMUNITY, "res-1"), "other"),
    "the volunteer": (("volunteer", COMMUNITY, SELF), "self"),
    "another volunteer": (("volunteer", COMMUNITY, "v-other"), "other"),
    "team leader": (("volunteer", COMMUNITY, "lead"), "other"),
    "grid worker": (("grid_worker", COMMUNITY, "gw-1"), "other"),
    "community admin": (("community_admin", COMMUNITY, "a-1"), "admin_in_scope"),
    "street admin": (("street_admin", "zhongshan.hongyan", "a-2"), "admin_in_scope"),
    "district admin": (("district_admin", "zhongshan", "a-3"), "admin_in_scope"),
    "admin out of scope": (("community_admin", NEIGHBOUR, "a-4"), 403),
    "district admin elsewhere": (("district_admin", "futian", "a-5"), 403),
    "service account": (("service", "zhongshan", "svc"), "admin_in_scope"),
    "operator": (("operator", "zhongshan", "op"), "other"),
}
NEED_READERS: dict[str, tuple[tuple[str, str, str] | None, Reader | int]] = {
    "anonymous": (None, 401),
    "the requester": (("resident", COMMUNITY, "res-1"), "self"),
    "another resident": (("resident", COMMUNITY, "res-2"), "other"),
    "active claimer": (("volunteer", COMMUNITY, "v1"), "claimer"),
    "another volunteer": (("volunteer", COMMUNITY, "v2"), "other"),
    "team leader who claimed": (("volunteer", COMMUNITY, "lead"), "claimer"),
    "grid worker": (("grid_worker", COMMUNITY, "gw-1"), "other"),
    "community admin": (("community_admin", COMMUNITY, "a-1"), "admin_in_scope"),
    "street admin": (("street_admin", "zhongshan.hongyan", "a-2"), "admin_in_scope"),
    "district admin": (("district_admin", "zhongshan", "a-3"), "admin_in_scope"),
    "admin out of scope": (("community_admin", NEIGHBOUR, "a-4"), 404),
    "service account": (("service", "zhongshan", "svc"), "admin_in_scope"),
    "operator": (("operator", "zhongshan", "op"), "other"),
}


def dig(doc: dict[str, Any], field: str) -> Any:
    for part in field.split("."):
        doc = doc[part]
    return doc


def seen_as(
    record: Record, doc: dict[str, Any], reader: Reader, values: dict[str, dict[Shown, Any]]
) -> dict[str, Any]:
    """(field → what the response shows, what the matrix says it must show) per field."""
    row = FIELD_MATRIX[record][reader]
    return {f: (dig(doc, f), values[f][row[f]]) for f in row if f in values}


def headers_of(settings: Settings, who: tuple[str, str, str] | None, me: str) -> dict[str, str]:
    if who is None:
        return {}
    role, scope, sub = who
    return auth(settings, role, scope, sub=me if sub == SELF else sub)


async def test_each_role_sees_a_volunteer_as_the_field_matrix_says(settings: Settings) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    async with running(create_app(settings)) as client:
        await seed_tree(client, settings)
        resp = await client.post(
            "/v1/volunteers", json=report_in("李红梅", PHONE, location=HOME), headers=admin
        )
        assert resp.status_code == 201, resp.text
        vid = resp.json()["id"]
        for who, (principal, expected) in VOLUNTEER_READERS.items():
            headers = headers_of(settings, principal, vid)
            resp = await client.get(f"/v1/volunteers/{vid}", headers=headers)
            if isinstance(expected, int):
                assert resp.status_code in (expected, 404), (who, resp.text)
                continue
            assert resp.status_code == 200, (who, resp.text)
            for field, (shown, must) in seen_as(
                "volunteer", resp.json(), expected, VOLUNTEER_VALUES
            ).items():
                assert shown == must, (who, field)
            listed = await client.get(
                "/v1/volunteers", params={"scope": COMMUNITY}, headers=headers
            )
            if listed.status_code == 200:  # lists are for admins and service accounts
                [item] = [v for v in listed.json()["items"] if v["id"] == vid]
                assert seen_as("volunteer", item, expected, VOLUNTEER_VALUES) == seen_as(
                    "volunteer", resp.json(), expected, VOLUNTEER_VALUES
                ), who
    records = await read_topic(settings, settings.topics.volunteers, expect=5, timeout=10)
    [registered] = [e for e in events_of(records) if e.type == "org.tongxin.volunteer.registered"]
    data = registered.data
    assert data["name"] == "李**" and data["party_org"] is None
    assert data["location"] == COARSE and "phone" not in data


async def test_each_role_sees_a_need_as_the_field_matrix_says(settings: Settings) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    admin = auth(settings, "community_admin", COMMUNITY)
    known = (volunteer("v1"), volunteer("v2"), volunteer("lead"), volunteer("m1"))
    async with needs_service(settings, *known, team("t1", "lead", ["lead", "m1"])) as (_, client):
        body = need_body(slots=3, location=HOME)
        need_id = (await client.post("/v1/needs", json=body, headers=resident)).json()["id"]
        await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
        for claim, by in (
            ({"volunteer_id": "v1"}, auth(settings, "volunteer", COMMUNITY, sub="v1")),
            (
                {"team_id": "t1", "member_ids": ["m1"]},
                auth(settings, "volunteer", COMMUNITY, sub="lead"),
            ),
        ):
            resp = await client.post(f"/v1/needs/{need_id}/claims", json=claim, headers=by)
            assert resp.status_code == 201, resp.text
        # a need a grid worker posted for a resident who is not online (on_behalf_of)
        worker = auth(settings, "grid_worker", COMMUNITY, sub="gw-1")
        resp = await client.post("/v1/needs", json=need_body(location=HOME), headers=worker)
        assert resp.status_code == 201, resp.text
        behalf_id = resp.json()["id"]

        async def check(need_id: str, readers: dict[str, tuple[Any, Reader | int]]) -> None:
            for who, (principal, expected) in readers.items():
                headers = headers_of(settings, principal, "")
                resp = await client.get(f"/v1/needs/{need_id}", headers=headers)
                if isinstance(expected, int):
                    assert resp.status_code == expected, (who, resp.text)
                    continue
                assert resp.status_code == 200, (who, resp.text)
                need = resp.json()
                values = {f: v for f, v in NEED_VALUES.items() if not f.startswith("on_behalf")}
                if need["on_behalf_of"] is not None:
                    values = NEED_VALUES
                for field, (shown, must) in seen_as("need", need, expected, values).items():
                    assert shown == must, (who, field)

        await check(need_id, NEED_READERS)
        await check(
            behalf_id,
            {
                "the grid worker who posted it": (
                    ("grid_worker", COMMUNITY, "gw-1"),
                    "self",
                ),
                "community admin": (("community_admin", COMMUNITY, "a-1"), "admin_in_scope"),
                "operator": (("operator", "zhongshan", "op"), "other"),
            },
        )


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
