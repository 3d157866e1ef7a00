"""What the public streams carry of a person (issue 19, PIPL): never an exact place, a whole
name, a phone or an email. Every event type of the catalogue is walked; the payloads the
services' own domain code builds for a person whose every field is known are searched."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from services.identity.domain import appointment
from services.needs.domain import claim as claim_domain
from services.needs.domain import completion, verification
from services.needs.domain import need as need_domain
from services.needs.domain.completion import CompletionRecord
from services.needs.domain.need import Need, Requester
from services.needs.domain.verification import Correction
from services.notify.domain.delivery import Delivery
from services.volunteers.domain.volunteer import Volunteer
from shared.auth import Principal
from shared.events.envelope import EventPayload
from shared.events.needs import Location, OnBehalfOf, VolunteerHours
from shared.events.registry import all_schemas
from tests.unit.test_needs_domain import by_volunteer

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
COMMUNITY = "zhongshan.hongyan.dongfeng"
NAME, PHONE, EMAIL = "王阿姨", "13812345678", "wang.ayi@example.com"
HOME = Location(lat=29.563123, lon=106.551678)
# Personal-looking property names, and where one is not about a person (a team's, an org
# unit's, an organisation's or an item's name): anything else so named must say in its
# schema how the stream carries it (masked or rounded).
PERSONAL = {"name", "phone", "email", "location", "address", "target", "error"}
NOT_A_PERSON = {
    ("org.tongxin.team.formed", "name"),
    ("org.tongxin.org_unit.updated", "name"),
    ("org.tongxin.organization.registered", "name"),
    ("org.tongxin.shop_item.changed", "name"),
}
SAYS_HOW = re.compile(r"masked|0\.01°|never exact|always null")


def _properties(schema: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every property of the schema and of its definitions, by name."""
    for holder in [schema, *schema.get("$defs", {}).values()]:
        yield from holder.get("properties", {}).items()


def test_every_personal_field_of_every_event_type_says_how_the_stream_carries_it() -> None:
    unsaid = [
        (event_type, name)
        for event_type, schema in all_schemas().items()
        for name, prop in _properties(schema)
        if name in PERSONAL
        and (event_type, name) not in NOT_A_PERSON
        and not SAYS_HOW.search(prop.get("description", ""))
    ]
    assert unsaid == []


def _needs_events() -> list[EventPayload]:
    """A grid worker posts for 王阿姨 at her door; approved, claimed, completed, confirmed
    for her; a second need of hers verified by the grid worker."""
    resident = OnBehalfOf(name=NAME, phone="138****5678")
    fresh = Need(
        id="n1",
        community_id=COMMUNITY,
        title="陪独居老人聊天",
        category="elderly_care",
        kind="wish",
        slots=1,
        requester=Requester(name=NAME, phone=PHONE),
        requester_id="grid-1",
        location=HOME,
        status="pending_review",
        posted_by="grid-1",
        created_at=T0,
        updated_at=T0,
    )
    events: list[EventPayload] = []
    for behalf in (resident, None):
        need, posted = need_domain.post_need(fresh.model_copy(update={"on_behalf_of": behalf}), T0)
        need, approved = need_domain.approve(need, "admin", T0)
        need, claimed = claim_domain.claim_slots(need, by_volunteer("v1"), T0, 7)
        record = CompletionRecord("done-1", (VolunteerHours(volunteer_id="v1", hours=2),))
        done, completed = completion.complete(need, record, "v1", T0)
        if behalf is not None:
            _, closed = completion.confirm(done, 5, "谢谢", "grid-1", T0)
        else:
            _, closed = verification.verify(done, "grid-1", "grid_worker", T0, Correction(), None)
        events += [*posted, *approved, *claimed, *completed, *closed]
    return events


def _other_events() -> list[EventPayload]:
    volunteer = Volunteer(
        id="v1",
        name=NAME,
        phone=PHONE,
        home_community_id=COMMUNITY,
        party_org="机关党支部",
        location=HOME,
        pledge_signed=True,
        registered_by="admin",
        created_at=T0,
        updated_at=T0,
    )
    _, appointed = appointment.appoint(
        None,
        person_id="p1",
        phone=PHONE,
        name=NAME,
        role="community_admin",
        scope=COMMUNITY,
        actor=Principal("s", "street_admin", "zhongshan.hongyan"),
        now=T0,
    )
    failed = []
    for channel, target, error in (
        ("email", EMAIL, f"recipient refused: {{'{EMAIL}': (550, 'no such user')}}"),
        ("sms", PHONE, f"gateway: {PHONE} is not a mobile number"),
    ):
        delivery = Delivery(
            id=f"e1:{channel}",
            event_id="e1",
            event_type="org.tongxin.need.approved",
            subject="n1",
            community_id=COMMUNITY,
            recipient_id="v1",
            channel=channel,  # type: ignore[arg-type]
            target=target,
            title="新项目",
            body="…",
            due_at=T0,
            attempts=5,
            created_at=T0,
        )
        failed.append(delivery.give_up(T0, error)[1])
    return [volunteer.registered_event(), volunteer.updated_event(), *appointed, *failed]


def _places(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if set(value) == {"lat", "lon"}:
            yield value
        for inner in value.values():
            yield from _places(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _places(inner)


def test_no_payload_carries_an_exact_place_a_whole_name_a_phone_or_an_email() -> None:
    events = [*_needs_events(), *_other_events()]
    kinds = {e.type for e in events}
    # the event types that carry a person's name, place or contact: all of them are built here
    assert kinds >= {
        "org.tongxin.need.posted",
        "org.tongxin.need.approved",
        "org.tongxin.task.confirmed",
        "org.tongxin.hours.verified",
        "org.tongxin.volunteer.registered",
        "org.tongxin.volunteer.updated",
        "org.tongxin.appointment.made",
        "org.tongxin.notification.failed",
    }
    for event in events:
        body = event.model_dump_json()
        assert NAME not in body and PHONE not in body and EMAIL not in body, body
        assert str(HOME.lat) not in body and str(HOME.lon) not in body, body
        for place in _places(json.loads(body)):
            assert place == {"lat": 29.56, "lon": 106.55}, (event.type, place)
    behalf = [e for e in events if getattr(e, "on_behalf_of", None) is not None]
    assert {e.type for e in behalf} == {
        "org.tongxin.need.posted",
        "org.tongxin.task.confirmed",
        "org.tongxin.hours.verified",
    }
    assert all(e.on_behalf_of == OnBehalfOf(name="王**", phone="138****5678") for e in behalf)  # type: ignore[attr-defined]
