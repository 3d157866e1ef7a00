"""Quiet hours, daily digests and the daily cap, under a clock the test holds and advances."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.clock import ManualClock
from shared.settings import Settings
from tests.helpers import auth, eventually, handled
from tests.integration.test_notify_support import (
    NEAR,
    A,
    approved,
    inbox_count,
    notify_service,
    notify_settings,
    publish,
    publisher,
    settled,
    smtp_server,
    volunteer,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")


async def test_email_in_quiet_hours_is_held_until_they_end_while_the_inbox_gets_it_at_once(
    settings: Settings,
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 23, 0, tzinfo=SHANGHAI))
    async with smtp_server() as smtp, publisher(settings) as kafka:
        s = notify_settings(settings, smtp_port=smtp.port)
        async with notify_service(s, clock) as (client, deps, app):
            me = auth(s, "volunteer", A, "v1")
            resp = await client.put(
                "/v1/preferences/v1",
                json={"quiet_hours": {"start": "22:00", "end": "07:00"}},
                headers=me,
            )
            assert resp.status_code == 200, resp.text
            body = {"recipient_id": "v1", "channel": "email", "target": "v1@example.org"}
            assert (await client.post("/v1/subscriptions", json=body, headers=me)).is_success
            (reg,) = await publish(kafka, s, volunteer("v1", A, ["elderly_care"], NEAR))
            await handled(app, reg)
            (event,) = await publish(kafka, s, approved(title="陪老人看病"))
            await handled(app, event)

            await inbox_count(client, s, "v1", 1)
            await settled(deps)
            assert smtp.mails == []

            clock.set(datetime(2026, 3, 3, 6, 59, tzinfo=SHANGHAI))
            await settled(deps)
            assert smtp.mails == []
            clock.set(datetime(2026, 3, 3, 7, 0, 1, tzinfo=SHANGHAI))
            await eventually(lambda: asyncio.sleep(0, result=len(smtp.mails) == 1))
            assert "陪老人看病" in smtp.mails[0].body
            await settled(deps)
            assert len(smtp.mails) == 1


async def test_recipient_preferring_a_digest_gets_one_email_a_day_listing_every_item(
    settings: Settings,
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 10, 0, tzinfo=SHANGHAI))
    async with smtp_server() as smtp, publisher(settings) as kafka:
        s = notify_settings(settings, smtp_port=smtp.port)
        async with notify_service(s, clock) as (client, deps, app):
            me = auth(s, "volunteer", A, "v2")
            resp = await client.put(
                "/v1/preferences/v2", json={"digest": True, "digest_hour": 20}, headers=me
            )
            assert resp.status_code == 200, resp.text
            body = {"recipient_id": "v2", "channel": "email", "target": "v2@example.org"}
            assert (await client.post("/v1/subscriptions", json=body, headers=me)).is_success
            (reg,) = await publish(kafka, s, volunteer("v2", A, ["elderly_care"]))
            await handled(app, reg)
            events = await publish(
                kafka, s, approved(title="送餐到家"), approved(title="周末陪伴聊天")
            )
            await handled(app, *events)
            assert len(await inbox_count(client, s, "v2", 2)) == 2  # the inbox keeps each item
            await settled(deps)
            assert smtp.mails == []

            clock.advance(timedelta(hours=10, seconds=30))  # 20:00:30
            await eventually(lambda: asyncio.sleep(0, result=len(smtp.mails) == 1))
            digest = smtp.mails[0]
            assert digest.subject == "同心每日摘要（2026-03-02）"
            assert "共有2条新消息" in digest.body
            assert "送餐到家" in digest.body and "周末陪伴聊天" in digest.body
            items = await inbox_count(client, s, "v2", 3)
            assert items[0]["type"] == "org.tongxin.notification.digest"
            await settled(deps)
            assert len(smtp.mails) == 1


async def test_volunteer_over_the_daily_cap_gets_the_rest_of_a_campaign_in_the_digest(
    settings: Settings,
) -> None:
    clock = ManualClock(datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI))
    async with smtp_server() as smtp, publisher(settings) as kafka:
        s = notify_settings(
            settings, smtp_port=smtp.port, notify_daily_need_messages_per_volunteer=2
        )
        async with notify_service(s, clock) as (client, deps, app):
            me = auth(s, "volunteer", A, "v3")
            body = {"recipient_id": "v3", "channel": "email", "target": "v3@example.org"}
            assert (await client.post("/v1/subscriptions", json=body, headers=me)).is_success
            (reg,) = await publish(kafka, s, volunteer("v3", A, ["elderly_care"]))
            await handled(app, reg)
            campaign = [approved(title=f"春节慰问{i}") for i in range(3)]
            events = await publish(kafka, s, *campaign)
            await handled(app, *events)
            await settled(deps)
            assert len(await inbox_count(client, s, "v3", 2)) == 2
            assert len(smtp.mails) == 2

            clock.advance(timedelta(hours=11, seconds=30))  # 20:00:30
            await eventually(lambda: asyncio.sleep(0, result=len(smtp.mails) == 3))
            digest = smtp.mails[2]
            assert "共有1条新消息" in digest.body
            told = [m.body for m in smtp.mails[:2]] + [digest.body]
            for need in campaign:  # every need reached the volunteer exactly once
                assert sum(need.title in b for b in told) == 1
            await settled(deps)
            assert len(await inbox_count(client, s, "v3", 3)) == 3
            assert len(smtp.mails) == 3
