"""Every endpoint × every role × inside/outside the need's scope → the status docs/contract.md
implies. Inside, a resident is the need's requester and a volunteer its claimer (where
the need has one); outside, each role's scope is a sibling of the need's community,
street or district. A need the caller may not see is 404, one they see but may not act
on is 403.

One service for the module (its own topics and databases); each case gets a fresh need.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import pytest_asyncio

from shared.settings import Settings
from tests.helpers import auth, cleanup, forged_auth, isolated_settings
from tests.needs_support import COMMUNITY, OTHER_COMMUNITY, need_body, needs_service, rules
from tests.needs_support import organization as org_event
from tests.needs_support import volunteer as volunteer_event

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROLES = [
    "resident",
    "volunteer",
    "community_admin",
    "street_admin",
    "district_admin",
    "operator",
    "service",
]
# (sub, scope) inside and outside the need's community
PRINCIPALS: dict[tuple[str, bool], tuple[str, str]] = {
    ("resident", True): ("res-in", COMMUNITY),
    ("resident", False): ("res-out", OTHER_COMMUNITY),
    ("volunteer", True): ("vol-in", COMMUNITY),
    ("volunteer", False): ("vol-out", OTHER_COMMUNITY),
    ("community_admin", True): ("ca-in", COMMUNITY),
    ("community_admin", False): ("ca-out", OTHER_COMMUNITY),
    ("street_admin", True): ("sa-in", "zhongshan.hongyan"),
    ("street_admin", False): ("sa-out", "zhongshan.shiqiao"),
    ("district_admin", True): ("da-in", "zhongshan"),
    ("district_admin", False): ("da-out", "futian"),
    ("operator", True): ("op-in", "zhongshan"),
    ("operator", False): ("op-out", "futian"),
    ("service", True): ("svc-in", "zhongshan"),
    ("service", False): ("svc-out", "futian"),
}

ADMINS_OK = {r: 200 for r in ("community_admin", "street_admin", "district_admin", "service")}
# endpoint → role → (inside, outside)
EXPECTED: dict[str, dict[str, tuple[int, int]]] = {
    "post": {
        "resident": (201, 403),
        "volunteer": (403, 403),
        "operator": (403, 403),
        **{r: (201, 403) for r in ADMINS_OK},
    },
    "list": {r: (200, 200) for r in ROLES},
    "get": {r: (200, 404) for r in ROLES},
    "approve": {
        "resident": (403, 404),
        "volunteer": (404, 404),  # a need under review is not shown to volunteers
        "operator": (403, 404),
        **{r: (200, 404) for r in ADMINS_OK},
    },
    "reject": {
        "resident": (403, 404),
        "volunteer": (404, 404),
        "operator": (403, 404),
        **{r: (200, 404) for r in ADMINS_OK},
    },
    "cancel": {
        "resident": (200, 404),
        "volunteer": (404, 404),
        "operator": (403, 404),
        **{r: (200, 404) for r in ADMINS_OK},
    },
    "claim": {
        "resident": (403, 404),
        "volunteer": (201, 404),
        "operator": (403, 404),
        **{r: (201, 404) for r in ADMINS_OK},  # on an organisation's behalf
    },
    "release": {
        "resident": (403, 404),
        "volunteer": (200, 404),
        "operator": (403, 404),
        **{r: (200, 404) for r in ADMINS_OK},
    },
    "completion": {
        "resident": (403, 404),
        "volunteer": (200, 404),
        "operator": (403, 404),
        **{r: (200, 404) for r in ADMINS_OK},
    },
    "confirmation": {
        "resident": (200, 404),
        "volunteer": (403, 404),
        "operator": (403, 404),
        **{r: (200, 404) for r in ADMINS_OK},
    },
    "history": {
        "resident": (403, 404),
        "volunteer": (403, 404),
        "operator": (403, 404),
        **{r: (200, 404) for r in ADMINS_OK},
    },
}
# the state each endpoint's case starts from
SETUP = {
    "post": None,
    "list": None,
    "get": "open",
    "approve": "pending",
    "reject": "pending",
    "cancel": "pending",
    "claim": "open",
    "release": "claimed",
    "completion": "claimed",
    "confirmation": "completed",
    "history": "open",
}


class World:
    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    def headers(self, role: str, inside: bool) -> dict[str, str]:
        sub, scope = PRINCIPALS[(role, inside)]
        return auth(self.settings, role, scope, sub=sub)

    async def need_in(self, state: str) -> tuple[str, str | None]:
        c = self.client
        resident = self.headers("resident", True)
        admin = self.headers("community_admin", True)
        vol = self.headers("volunteer", True)
        resp = await c.post("/v1/needs", json=need_body(), headers=resident)
        need_id, claim_id = str(resp.json()["id"]), None
        if state == "pending":
            return need_id, None
        assert (await c.post(f"/v1/needs/{need_id}/approve", headers=admin)).status_code == 200
        if state == "open":
            return need_id, None
        resp = await c.post(
            f"/v1/needs/{need_id}/claims", json={"volunteer_id": "vol-in"}, headers=vol
        )
        assert resp.status_code == 201, resp.text
        claim_id = str(resp.json()["id"])
        if state == "claimed":
            return need_id, claim_id
        resp = await c.post(f"/v1/needs/{need_id}/completion", json=HOURS, headers=vol)
        assert resp.status_code == 200, resp.text
        return need_id, claim_id


HOURS = {"hours": [{"volunteer_id": "vol-in", "hours": 2}]}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(infrastructure: None) -> AsyncIterator[World]:
    settings = isolated_settings()
    known = (
        volunteer_event("vol-in", COMMUNITY),
        volunteer_event("vol-out", OTHER_COMMUNITY),
        org_event("org-in", COMMUNITY),
        # one volunteer claims a need for every case: no cap on active claims here
        rules(volunteer_claim_cap=1000),
    )
    try:
        async with needs_service(settings, *known) as (_, client):
            yield World(settings, client)
    finally:
        await cleanup(settings)


def request_for(
    endpoint: str, role: str, sub: str, need_id: str | None, claim_id: str | None
) -> tuple[str, str, dict[str, Any] | None]:
    base = f"/v1/needs/{need_id}"
    claim_body = (
        {"volunteer_id": sub}
        if role in ("resident", "volunteer")
        else {"organization_id": "org-in"}
    )
    return {
        "post": ("POST", "/v1/needs", need_body()),
        "list": ("GET", "/v1/needs", None),
        "get": ("GET", base, None),
        "approve": ("POST", f"{base}/approve", None),
        "reject": ("POST", f"{base}/reject", {"reason": "不符合条件"}),
        "cancel": ("POST", f"{base}/cancel", {"reason": "撤回"}),
        "claim": ("POST", f"{base}/claims", claim_body),
        "release": ("DELETE", f"{base}/claims/{claim_id}", None),
        "completion": ("POST", f"{base}/completion", HOURS),
        "confirmation": ("POST", f"{base}/confirmation", {"rating": 4}),
        "history": ("GET", f"{base}/history", None),
    }[endpoint]


CASES = [
    pytest.param(endpoint, role, inside, id=f"{endpoint}-{role}-{'in' if inside else 'out'}")
    for endpoint in EXPECTED
    for role in ROLES
    for inside in (True, False)
]


@pytest.mark.parametrize(("endpoint", "role", "inside"), CASES)
async def test_status_for_endpoint_role_and_scope(
    world: World, endpoint: str, role: str, inside: bool
) -> None:
    state = SETUP[endpoint]
    need_id, claim_id = await world.need_in(state) if state else (None, None)
    sub, _ = PRINCIPALS[(role, inside)]
    method, url, body = request_for(endpoint, role, sub, need_id, claim_id)
    resp = await world.client.request(method, url, json=body, headers=world.headers(role, inside))
    expected = EXPECTED[endpoint][role][0 if inside else 1]
    assert resp.status_code == expected, resp.text
    if expected >= 400:
        assert set(resp.json()["error"]) == {"code", "message", "details"}


@pytest.mark.parametrize("endpoint", list(EXPECTED))
async def test_every_endpoint_refuses_a_missing_or_forged_token_with_401(
    world: World, endpoint: str
) -> None:
    need_id, claim_id = "some-need", "some-claim"
    method, url, body = request_for(endpoint, "volunteer", "vol-in", need_id, claim_id)
    missing = await world.client.request(method, url, json=body)
    assert missing.status_code == 401, missing.text
    forged = forged_auth("district_admin", "zhongshan")
    resp = await world.client.request(method, url, json=body, headers=forged)
    assert resp.status_code == 401, resp.text
