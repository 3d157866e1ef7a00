"""The love supermarket (爱心超市, #15) on the real Kafka and FerretDB: a community's catalogue,
50 volunteers racing for 7 units (exactly 7 win; balances, ledgers and stock exact), the
shopkeeper's hand-over against the pick-up code, and a reservation that lapses."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from services.volunteers.app import create_app
from services.volunteers.handlers import commands
from shared.clock import ManualClock
from shared.events.envelope import CloudEvent
from shared.events.needs import VolunteerHours
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.settings import Settings
from tests.helpers import auth, eventually, running
from tests.integration.test_district_rules import verified
from tests.integration.test_volunteers_passbook import COMMUNITY, passbook, report_in

RACERS, STOCK, PRICE = 50, 7, 30


async def stock(client: httpx.AsyncClient, settings: Settings, item_id: str) -> int:
    r = await client.get(
        "/v1/supermarket/items",
        params={"community_id": COMMUNITY},
        headers=auth(settings, "volunteer", COMMUNITY),
    )
    assert r.status_code == 200, r.text
    [item] = [i for i in r.json() if i["id"] == item_id]
    return int(item["stock"])


async def test_fifty_reservations_of_seven_units_exactly_seven_succeed(
    settings: Settings,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    admin = auth(settings, "community_admin", COMMUNITY, sub="shopkeeper")
    async with running(create_app(settings, clock=clock)) as client:
        first = await report_in(client, settings, "13800000000")
        others = await asyncio.gather(
            *(
                client.post(
                    "/v1/volunteers",
                    headers=admin,
                    json={
                        "name": f"志愿者{i}",
                        "phone": f"138000000{i:02d}",
                        "home_community_id": COMMUNITY,
                        "pledge_signed": True,
                    },
                )
                for i in range(1, RACERS)
            )
        )
        ids = [first, *(str(r.json()["id"]) for r in others)]
        await ensure_topics(settings)
        producer = EventProducer(settings)
        await producer.start()
        try:  # one service of 10 verified hours by all of them: 100 points each
            service = verified(ids[0], 10)
            everyone = [VolunteerHours(volunteer_id=v, hours=10) for v in ids]
            await producer.publish(
                settings.topics.needs,
                [CloudEvent.wrap(service.model_copy(update={"hours": everyone}))],
            )
        finally:
            await producer.stop()

        async def all_credited() -> bool:
            books = await asyncio.gather(*(passbook(client, settings, v) for v in ids))
            return all(b.get("balance") == 100 for b in books)

        await eventually(all_credited, timeout=60)

        volunteer = auth(settings, "volunteer", COMMUNITY, sub=first)
        free_text = await client.post(
            f"/v1/volunteers/{first}/redemptions",
            json={"item": "随便什么", "points": 100},
            headers=volunteer,
        )
        assert free_text.status_code == 403, free_text.text  # no price of one's own choosing
        not_admin = await client.post(
            "/v1/supermarket/items",
            json={"community_id": COMMUNITY, "name": "大米 5kg", "points": PRICE, "stock": STOCK},
            headers=volunteer,
        )
        assert not_admin.status_code == 403, not_admin.text
        created = await client.post(
            "/v1/supermarket/items",
            json={"community_id": COMMUNITY, "name": "大米 5kg", "points": PRICE, "stock": STOCK},
            headers=admin,
        )
        assert created.status_code == 201, created.text
        item_id = created.json()["id"]

        async def reserve(v: str) -> httpx.Response:
            return await client.post(
                f"/v1/supermarket/items/{item_id}/reservations",
                json={"volunteer_id": v},
                headers=auth(settings, "volunteer", COMMUNITY, sub=v),
            )

        answers = await asyncio.gather(*(reserve(v) for v in ids))
        statuses = [r.status_code for r in answers]
        assert sorted(statuses) == [201] * STOCK + [409] * (RACERS - STOCK), [
            r.text for r in answers if r.status_code not in (201, 409)
        ]
        assert all("库存" in r.text for r in answers if r.status_code == 409)
        winners = {r.json()["volunteer_id"]: r.json() for r in answers if r.status_code == 201}
        assert len({w["unit_id"] for w in winners.values()}) == STOCK
        assert await stock(client, settings, item_id) == 0

        books = await asyncio.gather(*(passbook(client, settings, v) for v in ids))
        for v, book in zip(ids, books, strict=True):
            assert book["balance"] == (100 - PRICE if v in winners else 100), (v, book)
            assert book["balance"] == sum(e["points"] for e in book["ledger"]), book

        # the shopkeeper hands one over against its code; a wrong code changes nothing
        picked, waiting = list(winners.values())[:2]
        wrong = f"{(int(picked['code']) + 1) % 1_000_000:06d}"
        url = f"/v1/supermarket/reservations/{picked['id']}/handover"
        refused = await client.post(url, json={"code": wrong}, headers=admin)
        assert refused.status_code == 422, refused.text
        by_volunteer = await client.post(url, json={"code": picked["code"]}, headers=volunteer)
        assert by_volunteer.status_code in (403, 404), by_volunteer.text
        handed = await client.post(url, json={"code": picked["code"]}, headers=admin)
        assert handed.status_code == 200 and handed.json()["status"] == "handed_over", handed.text
        assert handed.json()["code"] is None  # the shopkeeper is told it, never shown it
        again = await client.post(url, json={"code": picked["code"]}, headers=admin)
        assert again.status_code == 409, again.text

        # the others are not picked up: after three days they lapse, units and points return
        clock.advance(timedelta(days=3, seconds=1))
        deps: Any = client._transport.app.state.deps  # type: ignore[attr-defined]
        assert await commands.lapse_reservations(deps) == STOCK - 1
        assert await commands.lapse_reservations(deps) == 0
        assert await stock(client, settings, item_id) == STOCK - 1
        book = await passbook(client, settings, waiting["volunteer_id"])
        assert book["balance"] == 100 == sum(e["points"] for e in book["ledger"])
        picker = await passbook(client, settings, picked["volunteer_id"])
        assert picker["balance"] == 100 - PRICE

        restocked = await client.patch(
            f"/v1/supermarket/items/{item_id}", json={"add_stock": 3}, headers=admin
        )
        assert restocked.status_code == 200 and restocked.json()["stock"] == STOCK + 2
