from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from shared.events import EVENT_TYPES, CloudEvent, payload_of
from shared.events.needs import NeedPosted
from shared.events.registry import all_schemas

CONTRACT_TYPES = {
    "org.tongxin.need.posted",
    "org.tongxin.need.approved",
    "org.tongxin.need.rejected",
    "org.tongxin.need.cancelled",
    "org.tongxin.project.claimed",
    "org.tongxin.project.claim_released",
    "org.tongxin.task.completed",
    "org.tongxin.task.confirmed",
    "org.tongxin.volunteer.registered",
    "org.tongxin.team.formed",
    "org.tongxin.team.member_joined",
    "org.tongxin.organization.registered",
    "org.tongxin.org_unit.updated",
    "org.tongxin.points.credited",
    "org.tongxin.points.redeemed",
    "org.tongxin.notification.delivered",
    "org.tongxin.notification.failed",
}


def posted() -> NeedPosted:
    now = datetime(2026, 11, 24, 8, 0, tzinfo=UTC)
    return NeedPosted(
        need_id="n1",
        community_id="zs.hy.df",
        category="elderly_care",
        kind="wish",
        title="买年货",
        slots=1,
        beneficiaries=1,
        requester_id="r1",
        posted_by="r1",
        status="pending_review",
        posted_at=now,
    )


def test_every_event_type_of_the_contract_has_a_payload_model() -> None:
    assert CONTRACT_TYPES <= set(EVENT_TYPES)


def test_envelope_round_trips_with_the_cloudevents_attributes() -> None:
    event = CloudEvent.wrap(posted(), correlation_id="c1")
    again = CloudEvent.from_bytes(event.to_bytes())
    assert again == event
    assert (again.specversion, again.source, again.subject, again.community) == (
        "1.0",
        "/tongxin/needs",
        "n1",
        "zs.hy.df",
    )
    assert again.correlationid == "c1"
    assert payload_of(again) == posted()


def test_consumers_ignore_fields_they_do_not_know() -> None:
    event = CloudEvent.wrap(posted())
    event.data["added_in_a_later_version"] = 42
    assert payload_of(event) == posted()


def test_envelope_missing_an_attribute_is_refused() -> None:
    raw = CloudEvent.wrap(posted()).model_dump()
    del raw["subject"]
    with pytest.raises(ValidationError):
        CloudEvent.model_validate(raw)


def test_no_payload_schema_has_a_phone_field() -> None:
    schemas = all_schemas()
    assert set(schemas) == set(EVENT_TYPES)
    assert all("phone" not in str(s["properties"]) for s in schemas.values())
