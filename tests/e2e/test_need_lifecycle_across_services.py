"""One need's whole life across the four services, which share nothing but Kafka:
the org tree and a volunteer are reported in at volunteers, the needs service learns them
from the events, the volunteer claims and completes, the resident confirms; the passbook
is credited, the figures counted, and the people concerned notified."""

from __future__ import annotations

from typing import Any

import httpx

from services.metrics.app import create_app as metrics_app
from services.needs.app import create_app as needs_app
from services.notify.app import create_app as notify_app
from services.volunteers.app import create_app as volunteers_app
from shared.settings import Settings
from tests.helpers import auth, eventually, running

DISTRICT, STREET, COMMUNITY = "zhongshan", "zhongshan.hongyan", "zhongshan.hongyan.dongfeng"


async def until_status(call: Any, status: int) -> httpx.Response:
    """Repeats a request while another service's events are still on their way."""
    last: list[httpx.Response] = []

    async def attempt() -> bool:
        last[:] = [await call()]
        return last[0].status_code == status

    try:
        await eventually(attempt, timeout=30)
    except AssertionError:
        raise AssertionError(
            f"expected {status}, last answer {last[0].status_code}: {last[0].text}"
        ) from None
    return last[0]


async def test_volunteer_reported_in_at_volunteers_claims_completes_and_is_credited(
    settings: Settings,
) -> None:
    service = auth(settings, "service", DISTRICT, sub="provisioning")
    admin = auth(settings, "community_admin", COMMUNITY, sub="admin-dongfeng")
    resident = auth(settings, "resident", COMMUNITY, sub="resident-wang")
    operator = auth(settings, "operator", DISTRICT, sub="operator-1")
    async with (
        running(volunteers_app(settings)) as volunteers,
        running(needs_app(settings)) as needs,
        running(notify_app(settings)) as notify,
        running(metrics_app(settings)) as metrics,
    ):
        for path, name in ((DISTRICT, "中山区"), (STREET, "红岩街道"), (COMMUNITY, "东风社区")):
            put = await volunteers.put(f"/v1/orgs/{path}", json={"name": name}, headers=service)
            assert put.status_code == 201, put.text
        reported = await volunteers.post(
            "/v1/volunteers",
            headers=admin,
            json={
                "name": "李志愿",
                "phone": "13900001234",
                "home_community_id": COMMUNITY,
                "party_org": "红岩街道机关党支部",
                "skills": ["elderly_care"],
                "pledge_signed": True,
            },
        )
        assert reported.status_code == 201, reported.text
        volunteer_id = reported.json()["id"]
        volunteer = auth(settings, "volunteer", COMMUNITY, sub=volunteer_id)

        need_body = {
            "community_id": COMMUNITY,
            "title": "陪独居老人去医院复诊",
            "category": "elderly_care",
            "kind": "wish",
            "slots": 1,
            "beneficiaries": 1,
            "requester": {"name": "王阿姨", "phone": "13812345678"},
        }
        # The needs service knows the community only once org_unit.updated reached it.
        posted = await until_status(
            lambda: needs.post("/v1/needs", json=need_body, headers=resident), 201
        )
        need_id = posted.json()["id"]
        approved = await needs.post(f"/v1/needs/{need_id}/approve", headers=admin)
        assert approved.status_code == 200, approved.text
        claimed = await until_status(
            lambda: needs.post(
                f"/v1/needs/{need_id}/claims",
                headers=volunteer,
                json={"volunteer_id": volunteer_id},
            ),
            201,
        )
        assert (await needs.get(f"/v1/needs/{need_id}", headers=resident)).json()[
            "status"
        ] == "claimed", claimed.text
        completed = await needs.post(
            f"/v1/needs/{need_id}/completion",
            headers=volunteer,
            json={
                "hours": [{"volunteer_id": volunteer_id, "hours": 3}],
                "beneficiaries_served": 1,
                "goods_count": 0,
                "funds_cents": 0,
                "note": "顺利复诊",
            },
        )
        assert completed.status_code == 200, completed.text
        confirmed = await needs.post(
            f"/v1/needs/{need_id}/confirmation",
            headers=resident,
            json={"rating": 5, "comment": "非常感谢"},
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["status"] == "confirmed"

        async def passbook() -> dict[str, Any] | None:
            r = await volunteers.get(f"/v1/volunteers/{volunteer_id}/passbook", headers=volunteer)
            body: dict[str, Any] = r.json()
            return body if r.status_code == 200 and body["balance"] == 30 else None

        book = await eventually(passbook)
        assert book["hours"] == 3 and book["stars"] == 0

        async def figures() -> dict[str, Any] | None:
            r = await metrics.get("/v1/stats", params={"scope": DISTRICT}, headers=operator)
            body: dict[str, Any] = r.json()
            return body if r.status_code == 200 and body["tasks_confirmed"] == 1 else None

        stats = await eventually(figures)
        assert stats["needs_posted"] == 1 and stats["needs_approved"] == 1
        assert stats["claims"] == 1 and stats["tasks_completed"] == 1
        assert stats["volunteer_hours"] == 3 and stats["volunteers_registered"] == 1
        assert stats["average_rating"] == 5

        async def inbox(recipient: str, headers: dict[str, str], event_type: str) -> bool:
            r = await notify.get("/v1/inbox", params={"recipient_id": recipient}, headers=headers)
            return r.status_code == 200 and any(
                i["type"] == event_type and i["subject"] == need_id for i in r.json()["items"]
            )

        # the matching volunteer heard of the approved need; the resident of the claim;
        # the claimer of the confirmation
        await eventually(lambda: inbox(volunteer_id, volunteer, "org.tongxin.need.approved"))
        await eventually(lambda: inbox("resident-wang", resident, "org.tongxin.project.claimed"))
        await eventually(lambda: inbox(volunteer_id, volunteer, "org.tongxin.task.confirmed"))
