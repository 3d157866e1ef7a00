"""The masked forms of personal fields (shared.visibility) and the views by reader."""

from __future__ import annotations

from pathlib import Path

from shared.auth import Principal
from shared.events.needs import Location
from shared.visibility import (
    FIELD_MATRIX,
    FieldView,
    coarse_location,
    mask_name,
    mask_target,
    reader_of,
    render_matrix,
)


def test_names_targets_and_places_are_masked_or_coarse() -> None:
    assert mask_name("王阿姨") == "王**" and mask_name("李") == "李*"
    assert mask_target("email", "wang.ayi@example.com") == "w***@example.com"
    assert mask_target("sms", "13812345678") == "138****5678"
    assert mask_target("webhook", "https://u:p@hooks.example.org/x?t=1") == (
        "https://hooks.example.org"
    )
    assert coarse_location(Location(lat=22.543123, lon=114.057865)) == Location(
        lat=22.54, lon=114.06
    )


def test_readers_stand_to_a_record_as_self_admin_in_scope_claimer_or_other() -> None:
    community = "zhongshan.hongyan.dongfeng"
    other = "zhongshan.hongyan.xinhua"
    assert reader_of(Principal("a", "community_admin", community), community, "v1") == (
        "admin_in_scope"
    )
    assert reader_of(Principal("a", "district_admin", "zhongshan"), community, "v1") == (
        "admin_in_scope"
    )
    assert reader_of(Principal("s", "service", "zhongshan"), community, "v1") == "admin_in_scope"
    assert reader_of(Principal("v1", "volunteer", community), community, "v1") == "self"
    assert reader_of(Principal("v2", "volunteer", community), community, "v1") == "other"
    assert reader_of(Principal("v2", "volunteer", community), community, "r", claimer=True) == (
        "claimer"
    )
    assert reader_of(Principal("o", "operator", "zhongshan"), community, "v1") == "other"
    assert reader_of(Principal("a", "community_admin", other), community, "v1") == "other"


def test_outside_the_purpose_no_personal_field_is_whole() -> None:
    """PIPL: a reader who is not the person, an admin in scope or a claimer sees no whole
    name, phone, exact place or party organisation."""
    for record, rows in FIELD_MATRIX.items():
        fields = set(next(iter(rows.values())))
        assert all(set(row) == fields for row in rows.values()), record
        personal = {"name", "phone", "location", "party_org", "target"}
        for field, how in rows.get("other", {}).items():
            assert field.rsplit(".", 1)[-1] not in personal or how != "whole", (record, field)


def test_a_view_applies_its_row_of_the_matrix() -> None:
    other = FieldView("volunteer", "other")
    assert other.text("name", "李红梅") == "李**" and other.text("phone", "13812345678") == (
        "138****5678"
    )
    assert other.optional("party_org", "机关党支部") is None
    assert other.place("location", Location(lat=22.543123, lon=114.057865)) == Location(
        lat=22.54, lon=114.06
    )
    whole = FieldView("need", "claimer")
    assert whole.text("requester.phone", "13812345678") == "13812345678"
    assert FieldView("pending_confirmation", "self").contact("target", "email", "wa@x.cn") == (
        "w***@x.cn"
    )
    assert FieldView("subscription", "admin_in_scope").contact("target", "sms", "13812345678") == (
        "13812345678"
    )


def test_docs_security_carries_the_matrix_as_the_code_has_it() -> None:
    docs = (Path(__file__).parents[2] / "docs" / "security.md").read_text()
    assert render_matrix() in docs, "docs/security.md: paste shared.visibility.render_matrix()"
