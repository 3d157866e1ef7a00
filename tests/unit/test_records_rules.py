"""The pure rules behind trustworthy records (#15): local rules, passbook revisions and
holds, check-in codes and intervals, the supermarket's units and reservations,
certificates' serials and contents."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from services.needs.domain import attendance
from services.needs.domain.need import Attendance
from services.volunteers.domain import certificates, passbook, supermarket
from services.volunteers.domain.org_unit import OrgUnit
from services.volunteers.domain.volunteer import Volunteer
from shared.errors import DomainError
from shared.errors import DomainError as VolunteersError
from shared.rules import DEFAULT_RULES, DistrictRules, district_of
from shared.visibility import mask_name
from tests.unit.test_needs_domain import a_need, claim

NOW = datetime(2026, 3, 1, 9, tzinfo=UTC)
COMMUNITY = "zhongshan.hongyan.dongfeng"


def test_beijings_thresholds_give_two_stars_at_200_hours_and_the_defaults_one() -> None:
    beijing = DistrictRules(star_hours=[100, 200, 500, 800, 1000])
    assert (beijing.stars_for(199.99), beijing.stars_for(200)) == (1, 2)
    assert DEFAULT_RULES.stars_for(200) == 1
    with pytest.raises(ValidationError):
        DistrictRules(star_hours=[100, 100, 500, 800, 1000])
    with pytest.raises(ValidationError):
        DistrictRules(star_hours=[100, 200])
    # thresholds in any order are kept rising (★ the lowest); JSON's 200.0 is the integer 200
    shuffled = DistrictRules.model_validate({"star_hours": [1000, 100, 800, 200.0, 500]})
    assert shuffled.star_hours == [100, 200, 500, 800, 1000]
    with pytest.raises(ValidationError):
        DistrictRules.model_validate({"star_hours": [100, 200, 500, 800, "1000"]})
    assert district_of(COMMUNITY) == "zhongshan"


def test_a_correction_posts_the_difference_and_an_old_revision_changes_nothing() -> None:
    book = passbook.empty("v1", COMMUNITY, NOW)
    first = passbook.credit(book, need_id="n", completion_id="c", hours=3, now=NOW)
    assert first is not None and first[1].points == 30
    book = first[0]
    down = passbook.credit(book, need_id="n", completion_id="c", hours=2, now=NOW, revision=2)
    assert down is not None
    book, entry, event = down
    assert (entry.kind, entry.points, entry.hours, book.balance) == ("reversal", -10, -1.0, 20)
    assert (event.points, event.revision, book.hours) == (-10, 2, 2.0)
    assert passbook.credit(book, need_id="n", completion_id="c", hours=9, now=NOW) is None
    per_hour = DistrictRules(points_per_hour=5)
    other = passbook.credit(book, need_id="m", completion_id="d", hours=2, now=NOW, rules=per_hour)
    assert other is not None and other[1].points == 10


def test_held_points_never_overdraw_and_come_back_once() -> None:
    book = passbook.empty("v1", COMMUNITY, NOW).model_copy(update={"balance": 50})
    with pytest.raises(VolunteersError):
        passbook.hold(book, reservation_id="r0", item="米", points=51, now=NOW)
    held = passbook.hold(book, reservation_id="r1", item="米", points=30, now=NOW)
    assert held is not None and held[0].balance == 20
    assert passbook.hold(held[0], reservation_id="r1", item="米", points=30, now=NOW) is None
    back = passbook.give_back(held[0], reservation_id="r1", item="米", now=NOW)
    assert back is not None and back[0].balance == 50 and back[1].points == 30
    assert passbook.give_back(back[0], reservation_id="r1", item="米", now=NOW) is None
    assert passbook.hold(back[0], reservation_id="r1", item="米", points=30, now=NOW) is None


def test_the_check_in_code_rotates_and_the_previous_one_is_still_taken() -> None:
    key = attendance.code_key("secret")
    code, until = attendance.current_code(key, "n1", NOW)
    assert len(code) == 6 and code.isdigit() and until > NOW
    later = NOW + timedelta(seconds=attendance.CODE_PERIOD_S)
    assert attendance.code_matches(key, "n1", code, later)  # typed as it changed
    assert not attendance.code_matches(key, "n1", code, later + timedelta(minutes=5))
    assert not attendance.code_matches(key, "n2", code, NOW)
    assert not attendance.code_matches(attendance.code_key("other"), "n1", code, NOW)


def test_declared_hours_are_checked_against_the_interval() -> None:
    need = claim(a_need(slots=1), "v1")
    with pytest.raises(DomainError) as missing:
        attendance.check_hours(need, {"v1": 1}, required=True)
    assert "签到" in missing.value.message
    assert attendance.check_hours(need, {"v1": 1}, required=False) == []
    one_hour = Attendance(check_in_at=NOW, check_out_at=NOW + timedelta(hours=1))
    claims = [c.model_copy(update={"attendance": {"v1": one_hour}}) for c in need.claims]
    need = need.model_copy(update={"claims": claims})
    assert attendance.check_hours(need, {"v1": 1.25}, required=True) == []
    with pytest.raises(DomainError) as refused:
        attendance.check_hours(need, {"v1": 3}, required=True)
    assert "登记 3 小时，超过签到签退间隔 1.0 小时" in refused.value.message
    assert len(attendance.check_hours(need, {"v1": 3}, required=False)) == 1


def an_item() -> supermarket.Item:
    return supermarket.Item(
        id="i1",
        community_id=COMMUNITY,
        name="米",
        points=30,
        units=1,
        created_at=NOW,
        updated_at=NOW,
    )


def test_a_unit_goes_to_one_reservation_and_a_reservation_is_handed_over_or_lapses() -> None:
    unit = supermarket.Unit(id="i1#1", item_id="i1")
    taken = supermarket.take(unit, "r1")
    assert taken is not None and supermarket.take(taken, "r2") is None
    r = supermarket.pending("r1", an_item(), "v1", NOW)
    r, event = supermarket.held(r, taken, NOW)
    assert r.code is not None and len(r.code) == 6 and event.points == 30
    with pytest.raises(VolunteersError):
        supermarket.hand_over(r, "wrong", "shop", NOW)
    assert supermarket.lapse(r, NOW) is None  # not yet
    done, _ = supermarket.hand_over(r, r.code, "shop", NOW)
    assert done.status == "handed_over"
    assert supermarket.lapse(done, NOW + timedelta(days=9)) is None
    lapsed = supermarket.lapse(r, r.expires_at)
    assert lapsed is not None and lapsed[0].status == "lapsed"
    with pytest.raises(VolunteersError):
        supermarket.pending("r2", an_item().model_copy(update={"active": False}), "v1", NOW)


def test_a_certificate_lists_what_its_issuer_recorded_in_the_period() -> None:
    book = passbook.empty("v1", COMMUNITY, NOW)
    for cid, community, hours, day in (
        ("a", COMMUNITY, 3, NOW),
        ("b", f"{COMMUNITY}.grid1", 2, NOW + timedelta(days=1)),  # a grid of the community
        ("c", "zhongshan.hongyan.xinhua", 4, NOW),  # recorded elsewhere
        ("d", COMMUNITY, 5, NOW - timedelta(days=400)),  # outside the period
    ):
        service = passbook.Credit(
            revision=1, points=0, hours=0, title=f"服务{cid}", community_id=community, served_at=day
        )
        credited = passbook.credit(
            book, need_id=cid, completion_id=cid, hours=hours, now=NOW, service=service
        )
        assert credited is not None
        book = credited[0]
    volunteer = Volunteer(
        id="v1",
        name="李红",
        phone="13812345678",
        home_community_id=COMMUNITY,
        pledge_signed=True,
        registered_by="admin",
        created_at=NOW,
        updated_at=NOW,
    )
    issuer = OrgUnit(
        path=COMMUNITY,
        name="东风社区",
        level="community",
        parent="zhongshan.hongyan",
        created_at=NOW,
        updated_at=NOW,
        updated_by="admin",
    )
    serial = certificates.serial_for("zhongshan", 2026, 1)
    assert serial == "TX-zhongshan-2026-000001" and certificates.valid_serial(serial)
    assert not certificates.valid_serial("TX-zhongshan-2026-1")
    cert, event = certificates.issue(
        serial=serial,
        volunteer=volunteer,
        book=book,
        issuer=issuer,
        issuer_id=COMMUNITY,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        by="v1",
        now=NOW,
    )
    assert [s.content for s in cert.services] == ["服务a", "服务b"] and cert.total_hours == 5
    assert cert.masked_phone == "138****5678" and mask_name("李红") == "李*"
    assert event.document_hash == cert.document_hash and len(cert.document_hash) == 64
    again, _ = certificates.issue(
        serial=serial,
        volunteer=volunteer,
        book=book,
        issuer=issuer,
        issuer_id=COMMUNITY,
        start=date(2026, 1, 1),
        end=date(2026, 12, 31),
        by="v1",
        now=NOW,
    )
    assert again.document_hash == cert.document_hash  # the hash is of what is printed
    revoked, _ = certificates.revoke(cert, "有误", "admin", NOW)
    with pytest.raises(VolunteersError):
        certificates.revoke(revoked, "again", "admin", NOW)
