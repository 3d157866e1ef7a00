"""FerretDB stopped under a running service: 503 with the reason; started again: recovery."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from services.needs.app import create_app
from shared.settings import Settings
from tests.helpers import auth, eventually, running
from tests.needs_support import make_known, org_unit

INFRA = Path(__file__).resolve().parents[2] / "deploy" / "local" / "infra.sh"
COMMUNITY = "zhongshan.hongyan.dongfeng"

pytestmark = pytest.mark.serial  # stops the shared FerretDB: never beside other tests


def infra(*args: str) -> None:
    subprocess.run(["bash", str(INFRA), *args], check=True, timeout=120, capture_output=True)


async def test_readyz_reports_mongodb_down_and_service_recovers_without_restart(
    settings: Settings,
) -> None:
    headers = auth(settings, "resident", COMMUNITY)
    body = {
        "community_id": COMMUNITY,
        "title": "陪独居老人聊天",
        "category": "elderly_care",
        "requester": {"name": "张奶奶", "phone": "13700002222"},
    }
    app = create_app(settings)
    async with running(app) as client:

        async def is_ready() -> bool:
            return (await client.get("/readyz")).status_code == 200

        # needs name communities the volunteers stream announced
        await make_known(app, settings, org_unit(COMMUNITY))
        # ready once its list index has caught up with its stream (seconds after a start)
        await eventually(is_ready, timeout=60)
        infra("down", "ferretdb")
        try:
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert "mongodb" in ready.json()["reasons"]
            assert "kafka" not in ready.json()["reasons"]
            failed = await client.post("/v1/needs", json=body, headers=headers)
            assert failed.status_code == 503
            assert failed.json()["error"]["code"] == "unavailable"
        finally:
            infra("up", "ferretdb")

        await eventually(is_ready, timeout=60)
        resp = await client.post("/v1/needs", json=body, headers=headers)
        assert resp.status_code == 201, resp.text
        got = await client.get(f"/v1/needs/{resp.json()['id']}", headers=headers)
        assert got.status_code == 200
