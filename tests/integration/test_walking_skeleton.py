"""A need posted over HTTP travels the whole platform: outbox → Kafka → metrics and notify."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from services.metrics.app import create_app as metrics_app
from services.needs.app import create_app as needs_app
from services.notify.app import create_app as notify_app
from shared.settings import Settings
from tests.helpers import auth, eventually, running
from tests.needs_support import make_known, org_unit

COMMUNITY = "zhongshan.hongyan.dongfeng"

NEED = {
    "community_id": COMMUNITY,
    "title": "给96岁老人买年货",
    "description": "春节前帮独居老人采购年货",
    "category": "elderly_care",
    "kind": "wish",
    "slots": 2,
    "requester": {"name": "王阿姨", "phone": "13812345678"},
    "beneficiaries": 1,
}


async def test_posted_need_reaches_kafka_as_cloudevent_and_metrics_and_notify(
    settings: Settings,
) -> None:
    resident = auth(settings, "resident", COMMUNITY, sub="resident-wang")
    operator = auth(settings, "operator", "zhongshan")
    needs_service = needs_app(settings)
    async with (
        running(needs_service) as needs,
        running(metrics_app(settings)) as metrics,
        running(notify_app(settings)) as notify,
    ):
        # a need names a community the needs service knows from the volunteers stream
        await make_known(needs_service, settings, org_unit(COMMUNITY))
        resp = await needs.post("/v1/needs", json=NEED, headers=resident)
        assert resp.status_code == 201, resp.text
        need = resp.json()
        assert need["status"] == "pending_review"
        assert need["requester"]["phone"] == "13812345678"  # the requester's own (issue 18)

        async def counted() -> int:
            r = await metrics.get("/v1/stats", params={"scope": "zhongshan"}, headers=operator)
            assert r.status_code == 200, r.text
            return int(r.json()["needs_posted"])

        assert await eventually(counted) == 1

        async def inbox() -> list[dict[str, object]]:
            r = await notify.get(
                "/v1/inbox", params={"recipient_id": "resident-wang"}, headers=resident
            )
            items: list[dict[str, object]] = r.json()["items"]
            return items

        items = await eventually(inbox)
        assert items[0]["subject"] == need["id"]
        assert items[0]["type"] == "org.tongxin.need.posted"

    # An outside client (Debian's kcat) reads the event as a structured-mode CloudEvent.
    kcat = shutil.which("kcat")
    if kcat is None:
        pytest.fail("kcat is not installed: `make deps` installs it")
    out = (
        subprocess.run(
            [
                kcat,
                "-b",
                settings.kafka_bootstrap,
                "-C",
                "-t",
                settings.topics.needs,
                "-e",
                "-q",
                "-f",
                "%k\t%h\t%s\n",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        .stdout.strip()
        .splitlines()
    )
    assert len(out) == 1
    key, headers, value = out[0].split("\t", 2)
    assert key == need["id"]
    assert "content-type=application/cloudevents+json" in headers
    event = json.loads(value)
    assert event["specversion"] == "1.0"
    assert event["type"] == "org.tongxin.need.posted"
    assert event["source"] == "/tongxin/needs"
    assert event["subject"] == need["id"]
    assert event["community"] == COMMUNITY
    assert event["dataschema"].endswith("org.tongxin.need.posted:v1")
    assert event["correlationid"]
    assert event["data"]["title"] == NEED["title"]
    assert "13812345678" not in value and "phone" not in event["data"]
