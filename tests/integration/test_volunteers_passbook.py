"""The love passbook on the real FerretDB and Kafka: credits once, never negative, stars."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY

from services.volunteers.app import create_app
from shared.events.envelope import CloudEvent
from shared.events.needs import TaskCompleted, VolunteerHours
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.settings import Settings
from tests.helpers import auth, events_of, eventually, read_topic, running

COMMUNITY = "zhongshan.hongyan.dongfeng"


def completion(hours: dict[str, float], need_id: str | None = None, **extra: Any) -> TaskCompleted:
    now = datetime.now(UTC)
    return TaskCompleted(
        need_id=need_id or str(uuid.uuid4()),
        community_id=COMMUNITY,
        category="elderly_care",
        kind="wish",
        completion_id=str(uuid.uuid4()),
        claim_ids=[str(uuid.uuid4())],
        volunteer_ids=list(hours),
        hours=[VolunteerHours(volunteer_id=v, hours=h) for v, h in hours.items()],
        beneficiaries_served=1,
        goods_count=0,
        funds_cents=0,
        requester_id="resident-1",
        completed_by=next(iter(hours)),
        posted_at=now,
        completed_at=now,
        **extra,
    )


def lost_races() -> float:
    sample = REGISTRY.get_sample_value(
        "tongxin_volunteers_commit_conflicts_total", {"aggregate": "passbooks"}
    )
    return sample or 0.0


@pytest.fixture
async def producer(settings: Settings) -> AsyncIterator[EventProducer]:
    await ensure_topics(settings)
    p = EventProducer(settings)
    await p.start()
    yield p
    await p.stop()


async def report_in(client: httpx.AsyncClient, settings: Settings, phone: str) -> str:
    service = auth(settings, "service", "zhongshan")
    for path in ("zhongshan", "zhongshan.hongyan", COMMUNITY):
        await client.put(f"/v1/orgs/{path}", json={"name": path}, headers=service)
    body = {
        "name": "李红",
        "phone": phone,
        "home_community_id": COMMUNITY,
        "skills": [],
        "pledge_signed": True,
    }
    r = await client.post("/v1/volunteers", json=body, headers=service)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def passbook(client: httpx.AsyncClient, settings: Settings, vid: str) -> dict[str, Any]:
    r = await client.get(
        f"/v1/volunteers/{vid}/passbook", headers=auth(settings, "volunteer", COMMUNITY, sub=vid)
    )
    assert r.status_code in (200, 404), r.text
    return dict(r.json()) if r.status_code == 200 else {}


async def test_task_completed_delivered_five_times_credits_once_and_racing_redemptions_stay_covered(
    settings: Settings, producer: EventProducer
) -> None:
    async with running(create_app(settings)) as client:
        vid = await report_in(client, settings, "13812345678")
        task = completion({vid: 10})
        event = CloudEvent.wrap(task)
        # the same event five times, and once more re-sent under a new event id
        await producer.publish(settings.topics.needs, [event] * 5 + [CloudEvent.wrap(task)])
        # a later completion of the same need (same partition) shows the first were handled
        marker = completion({"marker-volunteer": 1}, need_id=task.need_id)
        await producer.publish(settings.topics.needs, [CloudEvent.wrap(marker)])
        await eventually(
            lambda: passbook(client, settings, "marker-volunteer"),
            timeout=30,
        )
        book = await passbook(client, settings, vid)
        assert (book["balance"], book["hours"], len(book["ledger"])) == (100, 10.0, 1)

        # 20 redemptions of 14 points race for a balance of 100: 7 fit
        admin = auth(settings, "community_admin", COMMUNITY)

        async def redeem(i: int) -> int:
            r = await client.post(
                f"/v1/volunteers/{vid}/redemptions",
                json={"item": f"爱心超市 {i}", "points": 14},
                headers=admin,
            )
            assert r.status_code in (201, 409), r.text
            return r.status_code

        lost_before = lost_races()
        statuses = await asyncio.gather(*(redeem(i) for i in range(20)))
        assert statuses.count(201) == 7 and statuses.count(409) == 13
        assert lost_races() > lost_before  # the commits really raced
        book = await passbook(client, settings, vid)
        assert book["balance"] == 100 - 7 * 14 >= 0
        assert sum(entry["points"] for entry in book["ledger"]) == book["balance"]
        assert [e["kind"] for e in book["ledger"]].count("redemption") == 7
        short = await client.post(
            f"/v1/volunteers/{vid}/redemptions", json={"item": "油", "points": 3}, headers=admin
        )
        assert short.status_code == 409
        assert short.json()["error"]["details"] == {"balance": 2, "requested": 3}

    events = events_of(await read_topic(settings, settings.topics.volunteers, expect=13))
    mine = [e for e in events if e.subject == vid]
    assert [e.type for e in mine].count("org.tongxin.points.credited") == 1
    assert [e.type for e in mine].count("org.tongxin.points.redeemed") == 7
    credited = next(e for e in mine if e.type == "org.tongxin.points.credited")
    assert credited.data["points"] == 100 and credited.data["completion_id"] == task.completion_id


async def test_stars_at_100_hours_team_members_earn_their_own_hours_and_strangers_are_credited(
    settings: Settings, producer: EventProducer
) -> None:
    async with running(create_app(settings)) as client:
        vid = await report_in(client, settings, "13812345678")
        mate = await report_in(client, settings, "13900000000")
        # 99.5 hours over five completions (at most 24 h each), the second shared by a team
        loads = [{vid: 24.0}, {vid: 24.0, mate: 3.0}, {vid: 24.0}, {vid: 24.0}, {vid: 3.5}]
        team = str(uuid.uuid4())
        events = [
            CloudEvent.wrap(completion(h, team_ids=[team] if len(h) > 1 else [])) for h in loads
        ]
        await producer.publish(settings.topics.needs, events)

        async def at(hours: float) -> dict[str, Any] | None:
            book = await passbook(client, settings, vid)
            return book if book.get("hours") == hours else None

        book = await eventually(lambda: at(99.5), timeout=30)
        assert (book["stars"], book["balance"]) == (0, 995)
        await producer.publish(settings.topics.needs, [CloudEvent.wrap(completion({vid: 0.5}))])
        book = await eventually(lambda: at(100.0), timeout=30)
        assert (book["stars"], book["balance"]) == (1, 1000)
        mate_book = await passbook(client, settings, mate)
        assert (mate_book["hours"], mate_book["balance"], mate_book["stars"]) == (3.0, 30, 0)

        # hours of a volunteer this service never saw: credited, in the completion's community
        await producer.publish(settings.topics.needs, [CloudEvent.wrap(completion({"ghost": 2}))])
        operator = auth(settings, "operator", "zhongshan.hongyan")

        async def ghost() -> dict[str, Any] | None:
            r = await client.get("/v1/volunteers/ghost/passbook", headers=operator)
            return dict(r.json()) if r.status_code == 200 else None

        book = await eventually(ghost, timeout=30)
        assert (book["community_id"], book["balance"]) == (COMMUNITY, 20)
        # and outside the reader's scope the passbook does not exist
        outsider = auth(settings, "operator", "futian")
        assert (
            await client.get("/v1/volunteers/ghost/passbook", headers=outsider)
        ).status_code == 404
        stranger = auth(settings, "volunteer", COMMUNITY)
        assert (
            await client.get(f"/v1/volunteers/{vid}/passbook", headers=stranger)
        ).status_code == 404
