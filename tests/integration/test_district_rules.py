"""Local rules by district (#15) on the real Kafka and FerretDB: set at volunteers, one
event per change, applied by volunteers (stars, points) and needs (auto-confirm days)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from services.needs.handlers import commands as needs_commands
from services.volunteers.app import create_app as volunteers_app
from shared.clock import ManualClock
from shared.events.envelope import CloudEvent
from shared.events.needs import HoursVerified, VolunteerHours
from shared.events.volunteers import DistrictRulesChanged
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.settings import Settings
from tests.helpers import auth, events_of, eventually, read_topic, running
from tests.integration.test_volunteers_passbook import COMMUNITY, passbook, report_in
from tests.needs_support import OTHER_DISTRICT_COMMUNITY, need_body, needs_service, volunteer

BEIJING = [100, 200, 500, 800, 1000]


def verified(
    volunteer_id: str, hours: float, title: str | None = None, community: str = COMMUNITY
) -> HoursVerified:
    """A completion's hours as the needs service verifies them (revision 1)."""
    now = datetime.now(UTC)
    return HoursVerified(
        need_id=str(uuid.uuid4()),
        community_id=community,
        category="elderly_care",
        kind="wish",
        completion_id=str(uuid.uuid4()),
        revision=1,
        hours=[VolunteerHours(volunteer_id=volunteer_id, hours=hours)],
        beneficiaries_served=1,
        goods_count=0,
        funds_cents=0,
        via="admin",
        verified_by="admin",
        verified_at=now,
        completed_at=now,
        requester_id="resident-1",
        title=title,
    )


async def test_a_district_with_beijings_thresholds_gives_two_stars_at_200_hours(
    settings: Settings,
) -> None:
    district_admin = auth(settings, "district_admin", "zhongshan", sub="zs-admin")
    async with running(volunteers_app(settings)) as client:
        vid = await report_in(client, settings, "13812345678")
        rules = {"star_hours": BEIJING, "points_per_hour": 5}
        for wrong in ({**rules, "star_hours": [100, 50, 500, 800, 1000]}, {"points": 1}):
            bad = await client.put("/v1/orgs/zhongshan/rules", json=wrong, headers=district_admin)
            assert bad.status_code == 422, bad.text
        community_admin = auth(settings, "community_admin", COMMUNITY)
        refused = await client.put("/v1/orgs/zhongshan/rules", json=rules, headers=community_admin)
        assert refused.status_code == 403, refused.text
        put = await client.put("/v1/orgs/zhongshan/rules", json=rules, headers=district_admin)
        assert put.status_code == 200, put.text
        assert put.json()["auto_confirm_days"] == 7  # unnamed rules keep their defaults
        again = await client.put("/v1/orgs/zhongshan/rules", json=rules, headers=district_admin)
        assert again.status_code == 200  # unchanged: no second event

        await ensure_topics(settings)
        producer = EventProducer(settings)
        await producer.start()
        try:
            await producer.publish(settings.topics.needs, [CloudEvent.wrap(verified(vid, 200))])
        finally:
            await producer.stop()

        async def credited() -> dict[str, Any] | None:
            book = await passbook(client, settings, vid)
            return book if book.get("ledger") else None

        book = await eventually(credited, timeout=30)
        # ★★ at 200 h by Beijing's thresholds (★ by the defaults), 5 points an hour
        assert (book["hours"], book["stars"], book["balance"]) == (200, 2, 1000)

        records = await read_topic(settings, settings.topics.volunteers, expect=6)
        changes = [e for e in events_of(records) if e.type == DistrictRulesChanged.type]
        assert len(changes) == 1 and changes[0].data["star_hours"] == BEIJING
        credits = [e for e in events_of(records) if e.type == "org.tongxin.points.credited"]
        assert [e.data["stars"] for e in credits] == [2]


async def test_a_district_with_auto_confirm_after_3_days_confirms_on_day_3(
    settings: Settings,
) -> None:
    clock = ManualClock(datetime.now(UTC))
    rules = DistrictRulesChanged(
        district="zhongshan",
        star_hours=BEIJING,
        points_per_hour=10,
        auto_confirm_days=3,
        volunteer_claim_cap=5,
        organization_claim_cap=20,
        check_in_required=False,
        changed_by="zs-admin",
        changed_at=clock.now(),
    )
    # the background pass is out of the way: the test runs it at the moments it chooses
    quiet = settings.model_copy(update={"claim_expiry_check_s": 3600})
    known = (volunteer("v1"), volunteer("v2", OTHER_DISTRICT_COMMUNITY), rules)
    async with needs_service(quiet, *known, clock=clock) as (app, client):

        async def completed(community: str, volunteer_id: str) -> str:
            admin = auth(settings, "community_admin", community)
            posted = await client.post("/v1/needs", json=need_body(community), headers=admin)
            need_id = str(posted.json()["id"])
            await client.post(f"/v1/needs/{need_id}/approve", headers=admin)
            who = auth(settings, "volunteer", community, sub=volunteer_id)
            claimed = await client.post(
                f"/v1/needs/{need_id}/claims", json={"volunteer_id": volunteer_id}, headers=who
            )
            assert claimed.status_code == 201, claimed.text
            done = await client.post(
                f"/v1/needs/{need_id}/completion",
                json={"hours": [{"volunteer_id": volunteer_id, "hours": 2}]},
                headers=who,
            )
            assert done.status_code == 200, done.text
            return need_id

        need_id = await completed(COMMUNITY, "v1")
        elsewhere = await completed(OTHER_DISTRICT_COMMUNITY, "v2")  # no rules: 7 days
        deps = app.state.deps

        clock.advance(timedelta(days=2, hours=23))
        assert await needs_commands.auto_confirm_due(deps) == 0
        clock.advance(timedelta(hours=1))
        assert await needs_commands.auto_confirm_due(deps) == 1
        assert await needs_commands.auto_confirm_due(deps) == 0  # once
        clock.advance(timedelta(days=4))
        assert await needs_commands.auto_confirm_due(deps) == 1  # the default district's

        admin = auth(settings, "community_admin", COMMUNITY)
        need = (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()
        assert need["completion"]["hours_status"] == "verified"
        assert need["completion"]["verified_via"] == "auto"
        records = await read_topic(settings, settings.topics.needs, expect=10)
        autos = {e.subject: e for e in events_of(records) if e.type == HoursVerified.type}
        assert set(autos) == {need_id, elsewhere}
        assert all(e.data["auto"] is True for e in autos.values())
