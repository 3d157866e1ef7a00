"""The masked forms of personal fields (shared.visibility) and the views by reader."""

from __future__ import annotations

from shared.auth import Principal
from shared.events.needs import Location
from shared.visibility import coarse_location, mask_name, mask_target, view_for


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


def test_whole_records_for_admins_in_scope_and_the_person_only() -> None:
    community = "zhongshan.hongyan.dongfeng"
    assert view_for(Principal("a", "community_admin", community), community, "v1").whole
    assert view_for(Principal("v1", "volunteer", community), community, "v1").whole
    assert not view_for(Principal("v2", "volunteer", community), community, "v1").whole
    assert not view_for(Principal("o", "operator", "zhongshan"), community, "v1").whole
    other = "zhongshan.hongyan.xinhua"
    assert not view_for(Principal("a", "community_admin", other), community, "v1").whole
