"""Reminders (#15) on the real Kafka and FerretDB: the needs service commits them at their
time (an injected clock), once; the notify service delivers them to the people named."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from services.needs.handlers import commands
from services.notify.app import create_app as notify_app
from shared.clock import ManualClock
from shared.settings import Settings
from tests.helpers import auth, eventually, running
from tests.integration.test_needs_fair_claiming import open_need
from tests.needs_support import COMMUNITY, needs_service, volunteer


async def reminded(
    notify: httpx.AsyncClient, recipient: str, headers: dict[str, str], title: str
) -> bool:
    r = await notify.get("/v1/inbox", params={"recipient_id": recipient}, headers=headers)
    return r.status_code == 200 and any(
        i["type"] == "org.tongxin.reminder.due" and i["title"] == title for i in r.json()["items"]
    )


async def test_claimers_hear_of_a_due_date_and_the_resident_is_reminded_to_confirm(
    settings: Settings,
) -> None:
    quiet = settings.model_copy(update={"claim_expiry_check_s": 3600})
    clock = ManualClock(datetime.now(UTC))
    admin = auth(settings, "community_admin", COMMUNITY)
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    due = (clock.now() + timedelta(days=2)).isoformat()
    async with (
        running(notify_app(settings)) as notify,
        needs_service(quiet, volunteer("v1"), clock=clock) as (app, client),
    ):
        deps = app.state.deps
        need_id = await open_need(client, admin, requester_id="res-1", due_at=due)
        claimed = await client.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert claimed.status_code == 201, claimed.text
        assert await commands.send_reminders(deps) == 0  # two days ahead: not yet
        clock.advance(timedelta(days=1, hours=1))
        assert await commands.send_reminders(deps) == 1
        assert await commands.send_reminders(deps) == 0  # once
        await eventually(lambda: reminded(notify, "v1", vol, "认领即将到期"), timeout=30)

        done = await client.post(
            f"/v1/needs/{need_id}/completion",
            json={"hours": [{"volunteer_id": "v1", "hours": 2}]},
            headers=vol,
        )
        assert done.status_code == 200, done.text
        clock.advance(timedelta(days=1))
        assert await commands.send_reminders(deps) == 1
        await eventually(lambda: reminded(notify, "res-1", resident, "请确认服务"), 30)
        clock.advance(timedelta(days=1))
        assert await commands.send_reminders(deps) == 1  # again, until they confirm
        confirmed = await client.post(
            f"/v1/needs/{need_id}/confirmation", json={"rating": 5}, headers=resident
        )
        assert confirmed.status_code == 200, confirmed.text
        clock.advance(timedelta(days=1))
        assert await commands.send_reminders(deps) == 0  # confirmed: no more reminders
