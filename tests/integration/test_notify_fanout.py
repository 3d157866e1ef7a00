"""An approved need reaches the matching volunteers of its community, on every channel they
chose, once: real Kafka, FerretDB, SMTP server and webhook receiver."""

from __future__ import annotations

import json

from services.notify.adapters.channels import LogSmsProvider
from shared.settings import Settings
from tests.helpers import auth, events_of, eventually, handled, read_topic
from tests.integration.test_notify_support import (
    FAR,
    NEAR,
    A,
    B,
    approved,
    claimed,
    inbox,
    inbox_count,
    notify_service,
    notify_settings,
    publish,
    publisher,
    settled,
    smtp_server,
    volunteer,
    webhook_receiver,
)


async def test_approved_need_reaches_matching_volunteers_of_its_community_once_on_each_channel(
    settings: Settings,
) -> None:
    async with smtp_server() as smtp, webhook_receiver() as receiver, publisher(settings) as kafka:
        s = notify_settings(settings, smtp_port=smtp.port)
        async with notify_service(s) as (client, deps, app):
            # a1 matches by skill and wants email and a webhook too; a3 by a subscribed category.
            a1 = auth(s, "volunteer", A, "a1")
            admin = auth(s, "community_admin", A, "admin-a")  # webhooks are set up by admins
            hook = {"channel": "webhook", "target": receiver.at("/hook"), "audience": "personal"}
            for body, who in (
                ({"recipient_id": "a1", "channel": "email", "target": "a1@example.org"}, a1),
                ({"recipient_id": "a1", **hook}, admin),
            ):
                resp = await client.post("/v1/subscriptions", json=body, headers=who)
                assert resp.status_code == 201, resp.text
                assert resp.json()["audience"] == "personal"
            receiver.secrets["/hook"] = resp.json()["secret"]  # shown this once
            resp = await client.put(
                "/v1/preferences/a3",
                json={"categories": ["elderly_care"]},
                headers=auth(s, "volunteer", A, "a3"),
            )
            assert resp.status_code == 200, resp.text
            for vid, scope in (("a2", A), ("b1", B)):
                resp = await client.post(
                    "/v1/subscriptions",
                    json={"recipient_id": vid, "channel": "email", "target": f"{vid}@example.org"},
                    headers=auth(s, "volunteer", scope, vid),
                )
                assert resp.status_code == 201, resp.text

            registered = await publish(
                kafka,
                s,
                volunteer("a1", A, ["elderly_care", "驾驶"], NEAR),
                volunteer("a2", A, ["legal_aid"], NEAR),  # in A, does not match
                volunteer("a3", A, ["cooking"]),  # matches by category, location unknown
                volunteer("a4", A, ["elderly_care"], FAR),  # matches, but 4 km away
                volunteer("b1", B, ["elderly_care"], NEAR),  # matches, other community
            )
            await handled(app, *registered)
            need = approved(community=A, category="elderly_care")
            (event,) = await publish(kafka, s, need)

            a1_items = await inbox_count(client, s, "a1", 1)
            assert [(i["event_id"], i["type"], i["subject"]) for i in a1_items] == [
                (event.id, "org.tongxin.need.approved", need.need_id)
            ]
            assert "给独居老人送年货" in a1_items[0]["body"] and "1.1公里" in a1_items[0]["body"]
            assert len(await inbox_count(client, s, "a3", 1)) == 1
            await eventually(lambda: _true(len(smtp.to("a1@example.org")) == 1))
            await eventually(lambda: _true(len(receiver.ok()) == 1))
            hook = receiver.ok()[0]
            assert hook.signed
            assert hook.headers["content-type"] == "application/cloudevents+json"
            sent = json.loads(hook.body)
            assert (sent["id"], sent["type"], sent["subject"]) == (
                event.id,
                "org.tongxin.need.approved",
                need.need_id,
            )
            assert smtp.to("a1@example.org")[0].subject == "新的服务项目"
            await settled(deps)
            for outsider, scope in (("a2", A), ("a4", A), ("b1", B)):
                assert (await inbox(client, s, outsider, scope))["items"] == []
            assert len(smtp.mails) == 1 and len(receiver.hooks) == 1

            # The requester hears that their need was approved, in the inbox.
            delivered = events_of(await read_topic(s, s.topics.notify, expect=5))
            assert sorted((e.data["recipient_id"], e.data["channel"]) for e in delivered) == [
                ("a1", "email"),
                ("a1", "inapp"),
                ("a1", "webhook"),
                ("a3", "inapp"),
                ("resident-wang", "inapp"),
            ]
            assert {e.type for e in delivered} == {"org.tongxin.notification.delivered"}

        # The service restarts and forgets it handled the events (as after a crash between
        # the deliveries and the ledger): they come again, and nobody hears anything twice.
        async with notify_service(s) as (client, deps, app):
            await app.state.runtime.db["processed_events"].delete_many({})
            await kafka.publish(s.topics.volunteers, registered)
            await kafka.publish(s.topics.needs, [event])
            await handled(app, *registered, event)
            await settled(deps)
            assert len((await inbox(client, s, "a1"))["items"]) == 1
            assert len((await inbox(client, s, "a3"))["items"]) == 1
            assert len(smtp.mails) == 1 and len(receiver.hooks) == 1
            assert len(await read_topic(s, s.topics.notify, expect=6, timeout=3)) == 5


async def test_requester_hears_of_a_claim_by_text_message_in_the_language_they_chose(
    settings: Settings,
) -> None:
    sms = LogSmsProvider()
    async with publisher(settings) as kafka:
        s = notify_settings(settings)
        async with notify_service(s, sms=sms) as (client, deps, _):
            me = auth(s, "resident", A, "resident-wang")
            resp = await client.put(
                "/v1/preferences/resident-wang", json={"language": "en"}, headers=me
            )
            assert resp.status_code == 200, resp.text
            body = {"recipient_id": "resident-wang", "channel": "sms", "target": "13812345678"}
            assert (await client.post("/v1/subscriptions", json=body, headers=me)).is_success
            claim = claimed(A)
            claim = claim.model_copy(update={"title": "Fix the stairwell light"})
            await publish(kafka, s, claim)
            await eventually(lambda: _true(len(sms.sent) == 1))
            await settled(deps)
            assert sms.sent == [
                (
                    "13812345678",
                    "【同心】Your need was claimed："
                    'Your need "Fix the stairwell light" was claimed (1/2).',
                )
            ]
            (item,) = (await inbox(client, s, "resident-wang"))["items"]
            assert item["title"] == "Your need was claimed"


async def _true(value: bool) -> bool:
    return value
