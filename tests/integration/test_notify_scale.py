"""notify at district scale (#12): round trips per in-app delivery counted on the real
database client, fair selection over the cap, Chinese skills, invitations of closed needs."""

from __future__ import annotations

import asyncio
import collections
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from pymongo import AsyncMongoClient, monitoring

import shared.runtime
from shared.events.volunteers import TeamFormed, TeamMemberJoined
from shared.mongo.client import Document, create_client
from shared.settings import Settings
from tests.helpers import auth, eventually, handled
from tests.integration.test_notify_support import (
    HOME,
    NEAR,
    A,
    approved,
    claimed,
    inbox_count,
    notify_service,
    notify_settings,
    publish,
    publisher,
    volunteer,
)


class CommandCounter(monitoring.CommandListener):
    """Every command the service's database client sends (one round trip each)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.commands: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if event.database_name == self.database and event.command_name != "ping":
            target = event.command.get(event.command_name)
            self.commands.append(f"{event.command_name} {target}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@asynccontextmanager
async def counted_client(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> AsyncIterator[CommandCounter]:
    """The service's database client, wrapped: every command it sends is counted."""
    counter = CommandCounter(settings.database_name("notify"))

    def create(s: Settings) -> AsyncMongoClient[Document]:
        timeout = s.mongodb_timeout_ms
        return AsyncMongoClient(
            s.mongodb_url,
            tz_aware=True,
            serverSelectionTimeoutMS=timeout,
            socketTimeoutMS=timeout * 3,
            retryWrites=False,
            event_listeners=[counter],
        )

    monkeypatch.setattr(shared.runtime, "create_client", create)
    yield counter


async def inbox_items(db: Any, recipient: str) -> int:
    return int(await db["inbox"].count_documents({"key": recipient}))


async def test_an_in_app_delivery_costs_at_most_four_round_trips_on_the_common_path(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    s = notify_settings(settings, notify_dispatch_poll_s=30.0, relay_poll_s=30.0)
    vids = [f"rt-{i}" for i in range(10)]
    own = create_client(s)  # the test's own reads are not counted
    db = own[s.database_name("notify")]
    async with (
        counted_client(monkeypatch, s) as counter,
        publisher(s) as kafka,
        notify_service(s) as (_, _, app),
    ):
        await handled(
            app, *await publish(kafka, s, *(volunteer(v, A, ["助老"], NEAR) for v in vids))
        )
        # Warm-up: each recipient's first item (their inbox is probed once per process).
        await handled(app, *await publish(kafka, s, approved(requester="rq")))
        await asyncio.sleep(1.0)
        counter.commands.clear()
        events = await publish(kafka, s, approved(requester="rq"))

        async def delivered() -> bool:  # every item stored, every delivered event published
            counts = [await inbox_items(db, v) for v in vids]
            return min(counts) >= 2 and await db["outbox"].count_documents({}) == 0

        await eventually(delivered, timeout=30, interval=0.05)
        await asyncio.sleep(1.0)
        await handled(app, *events)
        deliveries = len(vids) + 1  # the matched volunteers and the requester
        per_delivery = len(counter.commands) / deliveries
        print(f"round trips: {len(counter.commands)} for {deliveries} in-app deliveries")
        print(collections.Counter(counter.commands).most_common())
        assert per_delivery <= 4, collections.Counter(counter.commands).most_common()
    await own.close()


async def test_over_ten_needs_with_a_cap_of_three_every_matching_volunteer_is_alerted_fairly(
    settings: Settings,
) -> None:
    s = notify_settings(settings, notify_max_recipients_per_need=3)
    vids = [f"fair-{i}" for i in range(10)]
    async with publisher(s) as kafka, notify_service(s) as (_client, _, app):
        await handled(
            app, *await publish(kafka, s, *(volunteer(v, A, ["陪护"], NEAR) for v in vids))
        )
        for _ in range(10):  # one after another, as a campaign's needs come
            await handled(app, *await publish(kafka, s, approved(location=HOME)))
        own = create_client(s)
        db = own[s.database_name("notify")]
        counts = {v: await inbox_items(db, v) for v in vids}
        await own.close()
        assert sum(counts.values()) == 30, counts
        assert all(2 <= c <= 4 for c in counts.values()), counts


async def test_a_volunteer_registered_with_chinese_skills_only_is_alerted_for_their_category(
    settings: Settings,
) -> None:
    s = notify_settings(settings)
    async with publisher(s) as kafka, notify_service(s) as (client, _, app):
        await handled(
            app,
            *await publish(
                kafka,
                s,
                volunteer("zh-1", A, ["助老", "理发"], NEAR),
                volunteer("zh-2", A, ["法律咨询"], NEAR),
            ),
        )
        await handled(app, *await publish(kafka, s, approved(category="elderly_care")))
        items = await inbox_count(client, s, "zh-1", 1)
        assert "年货" in items[0]["body"] or items[0]["title"]
        own = create_client(s)
        assert await inbox_items(own[s.database_name("notify")], "zh-2") == 0
        await own.close()


async def test_a_bulk_import_gives_each_subscriber_one_summary_not_one_message_per_row(
    settings: Settings,
) -> None:
    s = notify_settings(settings, notify_burst_window_s=8.0)  # the import well inside it
    async with publisher(s) as kafka, notify_service(s) as (client, _, app):
        admin = auth(s, "community_admin", A, "adm-import")
        resp = await client.post(
            "/v1/subscriptions",
            json={
                "channel": "inapp",
                "event_types": ["org.tongxin.volunteer.registered"],
                "scope": A,
            },
            headers=admin,
        )
        assert resp.status_code == 201, resp.text
        rows = [volunteer(f"imp-{i:03d}", A, ["助老"]) for i in range(50)]
        await handled(app, *await publish(kafka, s, *rows))
        items = await inbox_count(client, s, "adm-import", 2)
        await asyncio.sleep(9.0)  # nothing more comes
        items = (await client.get("/v1/inbox", headers=admin)).json()["items"]
        assert len(items) == 2, [i["body"] for i in items]
        assert items[0]["type"] == "org.tongxin.notification.summary"
        assert "新报到志愿者 50 名" in items[0]["body"]


async def test_a_team_is_a_small_document_and_one_per_member_and_its_members_hear_after_a_restart(
    settings: Settings,
) -> None:
    s = notify_settings(settings)
    members = [f"tm-{i:02d}" for i in range(30)]
    formed = TeamFormed(
        team_id="team-big",
        community_id=A,
        name="红岩服务队",
        service_type="elderly_care",
        leader_id="tm-lead",
        member_ids=members[:1],
        formed_at=datetime.now(UTC),
    )
    joins = [
        TeamMemberJoined(
            team_id="team-big", community_id=A, volunteer_id=m, joined_at=datetime.now(UTC)
        )
        for m in members[1:]
    ]
    own = create_client(s)
    db = own[s.database_name("notify")]
    async with publisher(s) as kafka:
        async with notify_service(s) as (_, _, app):
            await handled(app, *await publish(kafka, s, formed, *joins))
        team_doc = await db["teams"].find_one({"_id": "team-big"})
        assert team_doc is not None and "member_ids" not in team_doc  # joins never grow it
        assert await db["team_members"].count_documents({"team_id": "team-big"}) == 30
        by_team = claimed(volunteer_id=members[0]).model_copy(
            update={"claimant_type": "team", "team_id": "team-big", "claimed_by": "tm-lead"}
        )
        async with notify_service(s) as (_, _, app):  # the team is loaded from its documents
            await handled(app, *await publish(kafka, s, by_team))
            counts = {m: await inbox_items(db, m) for m in members}
    await own.close()
    assert counts == dict.fromkeys(members, 1)
