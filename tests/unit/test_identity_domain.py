from datetime import UTC, datetime, timedelta

import pytest

from services.identity.domain import appointment, person, policy, sign_in
from services.identity.domain.person import Appointment, Person, VolunteerLink
from services.identity.domain.sign_in import CodeRules, DomainError
from shared.auth import Principal

NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # 16:00 in Asia/Shanghai
RULES = CodeRules(
    ttl=timedelta(minutes=5),
    max_attempts=5,
    cooldown=timedelta(seconds=60),
    per_phone_per_day=10,
    per_address_per_day=100,
    timezone="Asia/Shanghai",
)


def test_codes_are_six_digits_and_stored_only_as_a_salted_hash() -> None:
    code = sign_in.new_code()
    assert len(code) == 6 and code.isdigit()
    stored = sign_in.hash_code("salt", "13800138000", code)
    assert code not in stored
    assert sign_in.code_matches("salt", "13800138000", code, stored)
    assert not sign_in.code_matches("other", "13800138000", code, stored)


def test_a_second_code_within_the_cooldown_waits_the_rest_of_it() -> None:
    with pytest.raises(DomainError) as err:
        sign_in.check_send(
            RULES,
            NOW,
            last_sent_at=NOW - timedelta(seconds=20),
            sent_to_phone_today=2,
            sent_from_address_today=2,
        )
    assert err.value.status == 429 and err.value.headers == {"Retry-After": "40"}


def test_the_daily_caps_wait_until_local_midnight() -> None:
    with pytest.raises(DomainError) as err:
        sign_in.check_send(
            RULES, NOW, last_sent_at=None, sent_to_phone_today=11, sent_from_address_today=11
        )
    assert err.value.headers == {"Retry-After": str(8 * 3600)}
    sign_in.check_send(
        RULES, NOW, last_sent_at=None, sent_to_phone_today=10, sent_from_address_today=100
    )


def _person(community: str | None = None) -> Person:
    return Person(
        id="p1", phone="13800138000", community_id=community, created_at=NOW, updated_at=NOW
    )


def _appointment(role: str, scope: str, active: bool = True) -> Appointment:
    return Appointment(
        id="a",
        person_id="p1",
        phone="13800138000",
        name="王",
        role=role,  # type: ignore[arg-type]
        scope=scope,
        active=active,
        appointed_by="x",
        appointed_at=NOW,
    )


def test_grants_come_from_data_and_the_highest_is_chosen_unless_one_is_asked_for() -> None:
    vol = VolunteerLink(volunteer_id="v1", community_id="zs.hy.hp", name="李")
    grants = person.grants_of(
        _person("zs.hy.hp"),
        [vol, vol.model_copy(update={"volunteer_id": "v0", "active": False})],
        [_appointment("community_admin", "zs.hy.hp"), _appointment("street_admin", "zs.x", False)],
    )
    assert [(g.role, g.sub) for g in grants] == [
        ("community_admin", "p1"),
        ("volunteer", "v1"),
        ("resident", "p1"),
    ]
    assert person.choose_grant(grants, None, None).role == "community_admin"
    assert person.choose_grant(grants, "volunteer", None).sub == "v1"
    previous = grants[2]
    assert person.choose_grant(grants, None, None, previous) == previous
    with pytest.raises(DomainError) as err:
        person.choose_grant(grants, "district_admin", None)
    assert err.value.status == 403
    with pytest.raises(DomainError) as err:
        person.choose_grant([], None, None)
    assert err.value.status == 422


def test_an_office_is_appointed_to_a_known_unit_of_its_level() -> None:
    appointment.require_office_level("grid_worker", "zs.hy.hp.g1", "grid")
    appointment.require_office_level("grid_worker", "zs.hy.hp", "community")
    for role, level in (
        ("community_admin", "street"),
        ("district_admin", "community"),
        ("street_admin", None),
    ):
        with pytest.raises(DomainError) as err:
            appointment.require_office_level(role, "zs.x", level)
        assert err.value.status == 422


def test_only_a_higher_admin_inside_the_scope_or_a_service_appoints() -> None:
    district = Principal("d", "district_admin", "zs")
    street = Principal("s", "street_admin", "zs.hy")
    assert policy.may_appoint(district, "street_admin", "zs.hy")
    assert not policy.may_appoint(district, "district_admin", "zs")
    assert policy.may_appoint(street, "grid_worker", "zs.hy.hp")
    assert not policy.may_appoint(street, "community_admin", "zs.other.c")
    assert not policy.may_appoint(Principal("r", "resident", "zs.hy.hp"), "grid_worker", "zs.hy.hp")
    assert policy.may_appoint(Principal("svc", "service", "zs"), "district_admin", "zs")
    made, events = appointment.appoint(
        None,
        person_id="p1",
        phone="13800138000",
        name=" 王书记 ",
        role="community_admin",
        scope="zs.hy.hp",
        actor=street,
        now=NOW,
    )
    assert made.name == "王书记" and "13800138000" not in events[0].model_dump_json()
    again, none = appointment.appoint(
        made,
        person_id="p1",
        phone="13800138000",
        name="王书记",
        role="community_admin",
        scope="zs.hy.hp",
        actor=street,
        now=NOW,
    )
    assert again == made and none == []
    ended, events = appointment.end_appointment(made, street, NOW)
    assert not ended.active and events[0].ended_by == "s"
