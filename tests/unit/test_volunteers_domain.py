"""The volunteers service's pure rules: passbook, stars, report-in, org tree, teams, policy."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.volunteers.domain import org_unit, passbook, policy
from services.volunteers.domain import team as team_domain
from services.volunteers.domain import volunteer as volunteer_domain
from services.volunteers.domain.org_unit import OrgUnit
from services.volunteers.domain.volunteer import Volunteer
from shared.auth import Principal
from shared.errors import DomainError
from shared.orgpath import OrgPath
from shared.privacy import mask_phone

NOW = datetime(2025, 3, 1, tzinfo=UTC)
COMMUNITY = "zhongshan.hongyan.dongfeng"


def unit(path: str) -> OrgUnit:
    return OrgUnit(
        path=path,
        name=path,
        level=OrgPath(path).level,
        parent=OrgPath(path).parent,
        created_at=NOW,
        updated_at=NOW,
        updated_by="t",
    )


def volunteer(community: str = COMMUNITY, phone: str = "13812345678") -> Volunteer:
    v, _ = volunteer_domain.register_volunteer(
        name="李红",
        phone=phone,
        community=unit(community),
        community_id=community,
        party_org=None,
        skills=[],
        pledge_signed=True,
        location=None,
        actor="admin",
        now=NOW,
    )
    return v


@pytest.mark.parametrize(
    ("hours", "stars"),
    [
        (0, 0),
        (99.5, 0),
        (100, 1),
        (299.99, 1),
        (300, 2),
        (600, 3),
        (999.99, 3),
        (1000, 4),
        (1499, 4),
        (1500, 5),
        (4000, 5),
    ],
)
def test_star_level_follows_cumulative_hours_at_each_boundary(hours: float, stars: int) -> None:
    assert passbook.stars_for(hours) == stars


def test_points_are_ten_per_hour_rounded_half_up() -> None:
    assert passbook.points_for(2) == 20
    assert passbook.points_for(0.5) == 5
    assert passbook.points_for(1.25) == 13
    assert passbook.points_for(0.04) == 0


def test_hours_add_up_without_float_drift_across_a_star_boundary() -> None:
    total = 0.0
    for _ in range(1000):
        total = passbook.add_hours(total, 0.1)
    assert total == 100.0
    assert passbook.stars_for(total) == 1


def test_a_completion_is_credited_once_per_passbook() -> None:
    book = passbook.empty("v1", COMMUNITY, NOW)
    first = passbook.credit(book, need_id="n1", completion_id="c1", hours=2.5, now=NOW)
    assert first is not None
    credited, entry, event = first
    assert (credited.balance, credited.hours, entry.points) == (25, 2.5, 25)
    assert event.balance == 25 and event.total_hours == 2.5 and event.stars == 0
    assert passbook.credit(credited, need_id="n1", completion_id="c1", hours=2.5, now=NOW) is None


def test_redemption_beyond_the_balance_is_refused_and_the_exact_balance_is_allowed() -> None:
    book = passbook.empty("v1", COMMUNITY, NOW).model_copy(update={"balance": 30})
    with pytest.raises(DomainError) as refused:
        passbook.redeem(book, redemption_id="r1", item="大米", points=31, now=NOW)
    assert refused.value.kind == "conflict"
    assert refused.value.details == {"balance": 30, "requested": 31}
    spent, entry, event = passbook.redeem(book, redemption_id="r2", item="大米", points=30, now=NOW)
    assert spent.balance == 0 and entry.points == -30 and event.points == 30


def test_phone_numbers_are_normalized_so_one_person_gets_one_id_per_community() -> None:
    assert volunteer_domain.normalize_phone("+86 138-1234-5678") == "13812345678"
    assert volunteer_domain.normalize_phone("0086 13812345678") == "13812345678"
    assert volunteer(phone="138 1234 5678").id == volunteer(phone="+8613812345678").id
    assert volunteer(phone="13812345678").id != volunteer("zhongshan.hongyan.xinhua").id
    for bad in ("12345", "abc", "12812345678"):
        with pytest.raises(DomainError) as exc:
            volunteer_domain.normalize_phone(bad)
        assert exc.value.details["field"] == "phone"
    assert mask_phone("13812345678") == "138****5678"


def test_reporting_in_needs_a_signed_pledge_and_an_existing_community() -> None:
    args = dict(
        name="李红",
        phone="13812345678",
        party_org="市税务局机关党支部",
        skills=["法律咨询", "法律咨询", " 唱歌 "],
        location=None,
        actor="admin",
        now=NOW,
    )
    with pytest.raises(DomainError) as no_pledge:
        volunteer_domain.register_volunteer(
            community=unit(COMMUNITY), community_id=COMMUNITY, pledge_signed=False, **args
        )
    assert no_pledge.value.details["field"] == "pledge_signed"
    with pytest.raises(DomainError) as missing:
        volunteer_domain.register_volunteer(
            community=None, community_id=COMMUNITY, pledge_signed=True, **args
        )
    assert missing.value.kind == "invalid"
    with pytest.raises(DomainError) as street:
        volunteer_domain.register_volunteer(
            community=unit("zhongshan.hongyan"),
            community_id="zhongshan.hongyan",
            pledge_signed=True,
            **args,
        )
    assert "not a community" in street.value.message
    v, events = volunteer_domain.register_volunteer(
        community=unit(COMMUNITY), community_id=COMMUNITY, pledge_signed=True, **args
    )
    assert v.skills == ["legal_advice", "performance"]  # the vocabulary's slugs
    assert "phone" not in events[0].model_dump() and events[0].home_community_id == COMMUNITY


def test_skills_split_on_the_separators_people_type() -> None:
    assert volunteer_domain.split_skills("唱歌、跳舞,修电脑，法律;医疗；理发 书法") == [
        "唱歌",
        "跳舞",
        "修电脑",
        "法律",
        "医疗",
        "理发",
        "书法",
    ]


def test_org_unit_level_comes_from_depth_and_a_parent_must_exist() -> None:
    assert [OrgPath(p).level for p in ("a", "a.b", "a.b.c", "a.b.c.d")] == [
        "district",
        "street",
        "community",
        "grid",
    ]
    for bad in ("", "A.b", "a..b", "a.b.c.d.e", "a b"):
        with pytest.raises(DomainError):
            OrgPath.parse(bad)
    with pytest.raises(DomainError) as orphan:
        org_unit.put_org_unit(None, "a.b", "红岩街道", None, "admin", NOW)
    assert orphan.value.details == {"parent": "a"}
    created, events = org_unit.put_org_unit(None, "a.b", "红岩街道", unit("a"), "admin", NOW)
    assert events[0].level == "street" and events[0].parent == "a"
    same, none = org_unit.put_org_unit(created, "a.b", "红岩街道", unit("a"), "admin", NOW)
    assert same == created and none == []


def test_team_members_come_from_the_team_community_and_only_members_lead() -> None:
    leader = volunteer()
    team, _ = team_domain.form_team(
        name="东风调解队",
        service_type="dispute_mediation",
        community=unit(COMMUNITY),
        community_id=COMMUNITY,
        leader=leader,
        leader_id=leader.id,
        actor="admin",
        now=NOW,
    )
    assert team.member_ids == [leader.id]
    stranger = volunteer("zhongshan.hongyan.xinhua", "13900000000")
    with pytest.raises(DomainError) as other:
        team_domain.join_team(team, stranger, stranger.id, NOW)
    assert other.value.kind == "invalid"
    with pytest.raises(DomainError) as not_member:
        team_domain.change_leader(team, stranger.id, NOW)
    assert not_member.value.kind == "conflict"
    neighbour = volunteer(phone="13700000000")
    joined, events = team_domain.join_team(team, neighbour, neighbour.id, NOW)
    assert events and team_domain.join_team(joined, neighbour, neighbour.id, NOW)[1] == []
    led, changed = team_domain.change_leader(joined, neighbour.id, NOW)
    assert led.leader_id == neighbour.id and changed[0].previous_leader_id == leader.id


def test_a_team_is_bounded_a_member_past_the_cap_is_refused_and_the_team_is_unchanged() -> None:
    leader = volunteer()
    team, _ = team_domain.form_team(
        name="东风助老队",
        service_type="elderly_care",
        community=unit(COMMUNITY),
        community_id=COMMUNITY,
        leader=leader,
        leader_id=leader.id,
        actor="admin",
        now=NOW,
    )
    full = team.model_copy(
        update={"member_ids": [f"v{i}" for i in range(team_domain.MAX_TEAM_MEMBERS)]}
    )
    newcomer = volunteer(phone="13700000001")
    with pytest.raises(DomainError) as refused:
        team_domain.join_team(full, newcomer, newcomer.id, NOW)
    assert refused.value.kind == "conflict" and "服务队已满" in str(refused.value)
    assert len(full.member_ids) == team_domain.MAX_TEAM_MEMBERS
    one_short = full.model_copy(update={"member_ids": full.member_ids[1:]})
    joined, events = team_domain.join_team(one_short, newcomer, newcomer.id, NOW)
    assert len(joined.member_ids) == team_domain.MAX_TEAM_MEMBERS and len(events) == 1


@pytest.mark.parametrize(
    ("role", "scope", "path", "allowed"),
    [
        ("service", "zhongshan", "zhongshan", True),
        ("district_admin", "zhongshan", "zhongshan", True),
        ("district_admin", "zhongshan", "futian", False),
        ("district_admin", "zhongshan", "zhongshan.hongyan", True),
        ("street_admin", "zhongshan.hongyan", "zhongshan.hongyan", False),
        ("street_admin", "zhongshan.hongyan", "zhongshan.hongyan.dongfeng", True),
        ("community_admin", COMMUNITY, COMMUNITY, False),
        ("community_admin", COMMUNITY, COMMUNITY + ".g3", True),
        ("operator", "zhongshan", "zhongshan.hongyan", False),
    ],
)
def test_only_an_admin_above_a_unit_creates_or_renames_it(
    role: str, scope: str, path: str, allowed: bool
) -> None:
    actor = Principal(sub="x", role=role, scope=scope)  # type: ignore[arg-type]
    assert policy.may_write_org(actor, path) is allowed
