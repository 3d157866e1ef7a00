"""Check-in and check-out (#15) on the real Kafka and FerretDB: the resident's rotating code,
the volunteer's arrival and departure, declared hours checked against the interval; and a
volunteer's hours of one day across needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from shared.clock import ManualClock
from shared.settings import Settings
from tests.helpers import auth
from tests.integration.test_needs_fair_claiming import open_need
from tests.needs_support import COMMUNITY, needs_service, rules, volunteer


async def code(client: httpx.AsyncClient, need_id: str, headers: dict[str, str]) -> str:
    r = await client.get(f"/v1/needs/{need_id}/check-in-code", headers=headers)
    assert r.status_code == 200, r.text
    return str(r.json()["code"])


async def test_with_check_in_required_3_hours_against_a_1_hour_interval_are_refused(
    settings: Settings,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    admin = auth(settings, "community_admin", COMMUNITY)
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    known = (volunteer("v1"), rules(check_in_required=True))
    async with needs_service(settings, *known, clock=clock) as (_, client):
        need_id = await open_need(client, admin, requester_id="res-1")
        claim = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        claim_id = claim.json()["id"]
        base = f"/v1/needs/{need_id}/claims/{claim_id}"
        hours = {"hours": [{"volunteer_id": "v1", "hours": 3}]}

        # the volunteer cannot see the code; without a check-in nothing is completed
        assert (
            await client.get(f"/v1/needs/{need_id}/check-in-code", headers=vol)
        ).status_code == 403
        missing = await client.post(f"/v1/needs/{need_id}/completion", json=hours, headers=vol)
        assert missing.status_code == 422 and "签到" in missing.text, missing.text

        shown = await code(client, need_id, resident)
        grid = auth(settings, "grid_worker", COMMUNITY, sub="grid-1")
        assert await code(client, need_id, grid) == shown  # or on the grid worker's phone
        wrong = f"{(int(shown) + 1) % 1_000_000:06d}"
        refused = await client.post(f"{base}/check-in", json={"code": wrong}, headers=vol)
        assert refused.status_code == 422 and "签到码" in refused.text, refused.text
        arrived = await client.post(f"{base}/check-in", json={"code": shown}, headers=vol)
        assert arrived.status_code == 200, arrived.text

        clock.advance(timedelta(hours=1))
        later = await code(client, need_id, resident)
        assert later != shown  # the code rotates
        stale = await client.post(f"{base}/check-out", json={"code": shown}, headers=vol)
        assert stale.status_code == 422, stale.text
        left = await client.post(f"{base}/check-out", json={"code": later}, headers=vol)
        assert left.status_code == 200, left.text

        too_many = await client.post(f"/v1/needs/{need_id}/completion", json=hours, headers=vol)
        assert too_many.status_code == 422, too_many.text
        message = too_many.json()["error"]["message"]
        assert "登记 3 小时，超过签到签退间隔 1.0 小时" in message, message
        assert (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()[
            "status"
        ] == "claimed"  # nothing changed

        one_hour = {"hours": [{"volunteer_id": "v1", "hours": 1}]}
        done = await client.post(f"/v1/needs/{need_id}/completion", json=one_hour, headers=vol)
        assert done.status_code == 200, done.text
        assert done.json()["completion"]["hours_status"] == "declared"


async def test_without_the_rule_hours_beyond_the_interval_go_to_review(settings: Settings) -> None:
    clock = ManualClock(datetime.now(UTC))
    admin = auth(settings, "community_admin", COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1"), clock=clock) as (_, client):
        need_id = await open_need(client, admin)
        claim = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        base = f"/v1/needs/{need_id}/claims/{claim.json()['id']}"
        r = await client.post(
            f"{base}/check-in", json={"code": await code(client, need_id, admin)}, headers=vol
        )
        assert r.status_code == 200, r.text
        clock.advance(timedelta(hours=1))
        r = await client.post(
            f"{base}/check-out", json={"code": await code(client, need_id, admin)}, headers=vol
        )
        assert r.status_code == 200, r.text
        done = await client.post(
            f"/v1/needs/{need_id}/completion",
            json={"hours": [{"volunteer_id": "v1", "hours": 3}]},
            headers=vol,
        )
        assert done.status_code == 200, done.text
        assert done.json()["completion"]["hours_status"] == "review"


async def test_more_than_12_hours_a_day_across_needs_goes_to_review(settings: Settings) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1")) as (_, client):
        statuses = []
        for hours in (8, 6):
            need_id = await open_need(client, admin)
            r = await client.post(
                f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
            )
            assert r.status_code == 201, r.text
            done = await client.post(
                f"/v1/needs/{need_id}/completion",
                json={"hours": [{"volunteer_id": "v1", "hours": hours}]},
                headers=vol,
            )
            assert done.status_code == 200, done.text
            statuses.append(done.json()["completion"]["hours_status"])
        assert statuses == ["declared", "review"]
        reasons = done.json()["completion"]["review_reasons"]
        assert any("14 小时" in r for r in reasons), reasons
