"""The org tree on the real FerretDB and Kafka: PUT/GET, parents, renames, who may, events."""

from __future__ import annotations

from services.volunteers.app import create_app
from shared.settings import Settings
from tests.helpers import auth, events_of, read_topic, running


async def test_org_tree_round_trip_parent_rule_rename_and_events(settings: Settings) -> None:
    service = auth(settings, "service", "zhongshan")
    district_admin = auth(settings, "district_admin", "zhongshan")
    street_admin = auth(settings, "street_admin", "zhongshan.hongyan")
    async with running(create_app(settings)) as client:
        # a street before its district: the parent must exist
        r = await client.put(
            "/v1/orgs/zhongshan.hongyan", json={"name": "红岩街道"}, headers=district_admin
        )
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"] == {"parent": "zhongshan"}

        r = await client.put("/v1/orgs/zhongshan", json={"name": "中山区"}, headers=service)
        assert r.status_code == 201, r.text
        assert r.json()["level"] == "district" and r.json()["parent"] is None
        r = await client.put(
            "/v1/orgs/zhongshan.hongyan", json={"name": "红岩街道"}, headers=district_admin
        )
        assert r.status_code == 201, r.text
        for slug, name in (("dongfeng", "东风社区"), ("xinhua", "新华社区")):
            r = await client.put(
                f"/v1/orgs/zhongshan.hongyan.{slug}", json={"name": name}, headers=street_admin
            )
            assert r.status_code == 201, r.text
            assert r.json()["level"] == "community"

        # a street admin may not rename their own street; the district admin may
        r = await client.put(
            "/v1/orgs/zhongshan.hongyan", json={"name": "红岩"}, headers=street_admin
        )
        assert r.status_code == 403
        r = await client.put(
            "/v1/orgs/zhongshan.hongyan", json={"name": "红岩街道办"}, headers=district_admin
        )
        assert r.status_code == 200, r.text
        # the same name again changes nothing and emits nothing
        r = await client.put(
            "/v1/orgs/zhongshan.hongyan", json={"name": "红岩街道办"}, headers=district_admin
        )
        assert r.status_code == 200

        resident = auth(settings, "resident", "zhongshan.hongyan.dongfeng")
        r = await client.get("/v1/orgs/zhongshan.hongyan", headers=resident)
        assert r.status_code == 200
        street = r.json()
        assert street["name"] == "红岩街道办" and street["level"] == "street"
        assert street["children"] == [
            {"path": "zhongshan.hongyan.dongfeng", "name": "东风社区", "level": "community"},
            {"path": "zhongshan.hongyan.xinhua", "name": "新华社区", "level": "community"},
        ]
        assert (await client.get("/v1/orgs/zhongshan.nowhere", headers=resident)).status_code == 404
        assert (await client.get("/v1/orgs/Bad..Path", headers=resident)).status_code == 422

    events = events_of(await read_topic(settings, settings.topics.volunteers, expect=5))
    updates = [(e.subject, e.data["name"]) for e in events if e.type.endswith("org_unit.updated")]
    assert sorted(updates) == sorted(
        [
            ("zhongshan", "中山区"),
            ("zhongshan.hongyan", "红岩街道"),
            ("zhongshan.hongyan.dongfeng", "东风社区"),
            ("zhongshan.hongyan.xinhua", "新华社区"),
            ("zhongshan.hongyan", "红岩街道办"),
        ]
    )
    renamed = next(e for e in events if e.data["name"] == "红岩街道办")
    assert renamed.data["level"] == "street" and renamed.data["parent"] == "zhongshan"
    assert renamed.community == "zhongshan.hongyan" and renamed.source == "/tongxin/volunteers"
