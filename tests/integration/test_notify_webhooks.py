"""Webhooks: signed, retried with backoff, given up on into notification.failed and the
dead-letter topic, and resumed by a restarted service."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from shared.settings import Settings
from tests.helpers import auth, events_of, eventually, read_topic
from tests.integration.test_notify_support import (
    A,
    WebhookReceiver,
    claimed,
    notify_service,
    notify_settings,
    publish,
    publisher,
    settled,
    webhook_receiver,
)

ADMIN = "admin-dongfeng"


async def subscribe_admin(
    client: httpx.AsyncClient, settings: Settings, receiver: WebhookReceiver
) -> dict[str, Any]:
    """The community's admin hears every claim in A on a webhook."""
    resp = await client.post(
        "/v1/subscriptions",
        json={
            "recipient_id": ADMIN,
            "channel": "webhook",
            "target": receiver.at("/hook"),
            "event_types": ["org.tongxin.project.claimed"],
            "scope": A,
        },
        headers=auth(settings, "community_admin", A, ADMIN),
    )
    assert resp.status_code == 201, resp.text
    sub: dict[str, Any] = resp.json()
    assert sub["audience"] == "scope"
    receiver.secrets["/hook"] = sub["secret"]
    return sub


async def test_webhook_that_fails_three_times_then_succeeds_gets_the_message_once(
    settings: Settings,
) -> None:
    async with webhook_receiver(fail_first=3) as receiver, publisher(settings) as kafka:
        s = notify_settings(settings, notify_max_attempts=5)
        async with notify_service(s) as (client, deps, _):
            await subscribe_admin(client, s, receiver)
            (event,) = await publish(kafka, s, claimed(A))
            await eventually(lambda: asyncio.sleep(0, result=len(receiver.ok()) == 1))
            await settled(deps)
            assert [h.status for h in receiver.hooks] == [503, 503, 503, 200]
            assert all(h.signed for h in receiver.hooks)
            assert len({h.body for h in receiver.hooks}) == 1  # the same CloudEvent each time
            assert [h.headers["x-tongxin-attempt"] for h in receiver.hooks] == ["1", "2", "3", "4"]
            records = await read_topic(s, s.topics.notify, expect=2)
            outcomes = {
                e.data["recipient_id"]: (e.type, e.data["attempts"]) for e in events_of(records)
            }
            assert outcomes[ADMIN] == ("org.tongxin.notification.delivered", 4)
            assert outcomes["resident-wang"][0] == "org.tongxin.notification.delivered"
            assert event.id in {e.data["source_event_id"] for e in events_of(records)}


async def test_webhook_that_always_fails_ends_in_notification_failed_and_dead_letter_topic(
    settings: Settings,
) -> None:
    async with webhook_receiver(always_fail=True) as receiver, publisher(settings) as kafka:
        s = notify_settings(settings, notify_max_attempts=3)
        async with notify_service(s) as (client, deps, _):
            sub = await subscribe_admin(client, s, receiver)
            (event,) = await publish(kafka, s, claimed(A))
            dead = await read_topic(s, s.topics.dlq(s.topics.notify), expect=1, timeout=30)
            await settled(deps)
            assert len(receiver.hooks) == 3
            assert len(dead) == 1
            headers = dict(dead[0].headers)
            assert headers["tongxin-notification-id"] == f"{event.id}:{ADMIN}:webhook".encode()
            assert headers["tongxin-attempts"] == b"3"
            assert headers["tongxin-error"] == b"HTTP 503"
            assert dead[0].value == receiver.hooks[0].body  # the CloudEvent it could not deliver
            outcomes = events_of(await read_topic(s, s.topics.notify, expect=2))
            failed = [e for e in outcomes if e.type == "org.tongxin.notification.failed"]
            assert [(e.data["recipient_id"], e.data["attempts"]) for e in failed] == [(ADMIN, 3)]
            assert failed[0].data["error"] == "HTTP 503"
            # Nothing more is tried once it failed.
            resp = await client.get(
                "/v1/subscriptions",
                params={"scope": A},
                headers=auth(s, "community_admin", A, ADMIN),
            )
            assert [i["id"] for i in resp.json()["items"]] == [sub["id"]]
            assert resp.json()["items"][0]["secret"] is None  # shown at creation only
            assert len(receiver.hooks) == 3


async def test_delivery_pending_when_the_service_stops_is_sent_once_after_restart(
    settings: Settings,
) -> None:
    async with webhook_receiver(always_fail=True) as receiver, publisher(settings) as kafka:
        # A slow retry: the service stops while the second attempt is still waiting.
        s = notify_settings(settings, notify_retry_base_s=3.0, notify_retry_max_s=3.0)
        async with notify_service(s) as (client, deps, _):
            await subscribe_admin(client, s, receiver)
            (event,) = await publish(kafka, s, claimed(A))

            async def retry_scheduled() -> bool:
                delivery, _ = await deps.notifier.deliveries.load(f"{event.id}:{ADMIN}:webhook")
                return delivery is not None and delivery.last_error == "HTTP 503"

            await eventually(retry_scheduled)
        receiver.always_fail = False
        assert receiver.ok() == []
        async with notify_service(s) as (_, deps, _):
            await eventually(lambda: asyncio.sleep(0, result=len(receiver.ok()) == 1))
            await settled(deps)
        assert [h.status for h in receiver.hooks] == [503, 200]
