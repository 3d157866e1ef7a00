"""Who you are comes from data: a volunteer by the phone they reported in with, offices by
appointment (and no longer once it ends), services by client credentials. Real services
(identity on a port, volunteers and needs in-process), the real broker and FerretDB."""

from __future__ import annotations

from typing import Any

import httpx

from services.volunteers.app import create_app as volunteers_app
from tests.helpers import auth, events_of, eventually, read_topic, running
from tests.identity_support import DISTRICT, HEPING, STREET, Identity, identity_service, new_phone
from tests.needs_support import need_body, needs_service, org_unit


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def test_a_phone_reported_in_as_a_volunteer_signs_in_as_that_volunteer_and_claims() -> None:
    async with identity_service(identity_code_cooldown_s=0) as idp:
        s = idp.settings
        phone = new_phone()
        async with running(volunteers_app(s)) as vols:
            service = auth(s, "service", DISTRICT)
            for path, name in ((DISTRICT, "中山区"), (STREET, "红岩街道"), (HEPING, "和平社区")):
                put = await vols.put(f"/v1/orgs/{path}", json={"name": name}, headers=service)
                assert put.status_code in (200, 201), put.text
            reported = await vols.post(
                "/v1/volunteers",
                json={
                    "name": "李志愿",
                    "phone": phone,
                    "home_community_id": HEPING,
                    "pledge_signed": True,
                },
                headers=auth(s, "community_admin", HEPING),
            )
            assert reported.status_code == 201, reported.text
            volunteer_id = reported.json()["id"]
            links = idp.app.state.deps.repo.volunteers
            await eventually(lambda: links.find_one({"_id": volunteer_id}), timeout=30)
        records = await read_topic(s, s.topics.volunteers, timeout=3)
        assert all(phone not in (r.value or b"").decode() for r in records)

        resp = await idp.sign_in(phone)
        assert resp.status_code == 200, resp.text
        tokens = resp.json()
        assert (tokens["role"], tokens["scope"], tokens["sub"]) == (
            "volunteer",
            HEPING,
            volunteer_id,
        )

        async with needs_service(s, org_unit(HEPING)) as (_, needs):
            admin = auth(s, "community_admin", HEPING)
            need_id = (await needs.post("/v1/needs", json=need_body(HEPING), headers=admin)).json()[
                "id"
            ]
            assert (await needs.post(f"/v1/needs/{need_id}/approve", headers=admin)).is_success

            async def claimed() -> httpx.Response | None:
                resp = await needs.post(
                    f"/v1/needs/{need_id}/claims",
                    json={"volunteer_id": volunteer_id},
                    headers=bearer(tokens),
                )
                return resp if resp.status_code == 201 else None

            await eventually(claimed, timeout=30)


async def appoint(
    idp: Identity, by: dict[str, str], phone: str, name: str, role: str, scope: str
) -> dict[str, Any]:
    resp = await idp.client.post(
        "/v1/appointments",
        json={"phone": phone, "name": name, "role": role, "scope": scope},
        headers=by,
    )
    assert resp.status_code == 201, resp.text
    return dict(resp.json())


async def test_an_appointed_admin_approves_a_need_in_their_name_until_the_appointment_ends() -> (
    None
):
    clients = {"street-office": {"secret": "s" * 40, "scope": DISTRICT}}
    async with identity_service(
        identity_code_cooldown_s=0, identity_service_clients=clients
    ) as idp:
        s = idp.settings
        wrong = await idp.client.post(
            "/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "street-office",
                "client_secret": "wrong",
            },
        )
        assert wrong.status_code == 401
        service = (
            await idp.client.post(
                "/v1/auth/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "street-office",
                    "client_secret": "s" * 40,
                },
            )
        ).json()
        assert (service["role"], service["scope"]) == ("service", DISTRICT)

        chief, secretary = new_phone(), new_phone()
        await appoint(idp, bearer(service), chief, "张区长", "district_admin", DISTRICT)
        district = (await idp.sign_in(chief)).json()
        assert (district["role"], district["scope"]) == ("district_admin", DISTRICT)

        # A community admin may not appoint a street admin; a district admin may.
        ca_token = auth(s, "community_admin", HEPING)
        refused = await idp.client.post(
            "/v1/appointments",
            json={"phone": secretary, "name": "王书记", "role": "street_admin", "scope": STREET},
            headers=ca_token,
        )
        assert refused.status_code == 403
        made = await appoint(idp, bearer(district), secretary, "王书记", "community_admin", HEPING)

        # The secretary signs in as a resident of 和平社区, then switches to the office.
        resident = (await idp.sign_in(secretary, role="resident", scope=HEPING)).json()
        assert resident["role"] == "resident"
        assert {(g["role"], g["scope"], g["scope_name"]) for g in resident["roles"]} == {
            ("resident", HEPING, "和平社区"),
            ("community_admin", HEPING, "和平社区"),
        }
        office = await idp.client.post(
            "/v1/auth/token",
            json={"refresh_token": resident["refresh_token"], "role": "community_admin"},
        )
        assert office.status_code == 200, office.text
        office_tokens = office.json()
        assert office_tokens["role"] == "community_admin"
        person_id = office_tokens["sub"]
        assert person_id == resident["sub"] == made["person_id"]

        async with needs_service(s, org_unit(HEPING)) as (_, needs):
            posted = await needs.post(
                "/v1/needs", json=need_body(HEPING), headers=auth(s, "resident", HEPING)
            )
            need_id = posted.json()["id"]
            approved = await needs.post(
                f"/v1/needs/{need_id}/approve", headers=bearer(office_tokens)
            )
            assert approved.status_code == 200, approved.text
            history = (
                await needs.get(f"/v1/needs/{need_id}/history", headers=bearer(office_tokens))
            ).json()["items"]
            approval = next(h for h in history if h["action"] == "approve")
            assert approval["actor"] == person_id and approval["role"] == "community_admin"

        listed = await idp.client.get(
            "/v1/appointments", params={"scope": HEPING}, headers=bearer(district)
        )
        assert [a["id"] for a in listed.json()["items"]] == [made["id"]]
        ended = await idp.client.delete(f"/v1/appointments/{made['id']}", headers=bearer(district))
        assert ended.status_code == 200 and ended.json()["active"] is False

        after = await idp.client.post(
            "/v1/auth/refresh", json={"refresh_token": office_tokens["refresh_token"]}
        )
        assert after.status_code == 200, after.text
        assert after.json()["role"] == "resident"
        assert "community_admin" not in {g["role"] for g in after.json()["roles"]}

        records = await read_topic(s, s.topics.identity, expect=3, timeout=15)
        events = sorted(events_of(records), key=lambda e: e.time)
        assert [(e.type, e.data["role"]) for e in events] == [
            ("org.tongxin.appointment.made", "district_admin"),
            ("org.tongxin.appointment.made", "community_admin"),
            ("org.tongxin.appointment.ended", "community_admin"),
        ]
        assert all(
            chief not in e.model_dump_json() and secretary not in e.model_dump_json()
            for e in events
        )
