"""Bad input of every kind the fields allow gets a clear 4xx naming the field, stores
nothing and publishes nothing."""

from __future__ import annotations

from typing import Any

import httpx

from shared.settings import Settings
from tests.helpers import auth, events_of, read_topic
from tests.needs_support import COMMUNITY, need_body, needs_service, org_unit, volunteer

LONG = "长" * 121

# (what is wrong, the body, the field the error must name)
BAD_NEEDS: list[tuple[str, dict[str, Any], str]] = [
    ("empty title", need_body(title=""), "title"),
    ("blank title", need_body(title="   "), "title"),
    ("title over 120 chars", need_body(title=LONG), "title"),
    ("title of the wrong type", need_body(title=123), "title"),
    ("description over 4000 chars", need_body(description="x" * 4001), "description"),
    ("unknown category", need_body(category="astrology"), "category"),
    ("category of the wrong type", need_body(category=5), "category"),
    ("unknown kind", need_body(kind="favour"), "kind"),
    ("zero slots", need_body(slots=0), "slots"),
    ("over 500 slots", need_body(slots=501), "slots"),
    ("negative slots", need_body(slots=-1), "slots"),
    ("slots as a string", need_body(slots="3"), "slots"),
    ("fractional slots", need_body(slots=2.5), "slots"),
    ("slots as a boolean", need_body(slots=True), "slots"),
    ("negative beneficiaries", need_body(beneficiaries=-1), "beneficiaries"),
    ("beneficiaries as text", need_body(beneficiaries="many"), "beneficiaries"),
    ("no requester", {k: v for k, v in need_body().items() if k != "requester"}, "requester"),
    ("requester without a name", need_body(requester={"name": "", "phone": "13812345678"}), "name"),
    ("malformed phone", need_body(requester={"name": "王", "phone": "call me"}), "phone"),
    ("latitude out of range", need_body(location={"lat": 91, "lon": 113}), "lat"),
    ("longitude as text", need_body(location={"lat": 22, "lon": "east"}), "lon"),
    ("skill over 40 chars", need_body(skills=["x" * 41]), "skills"),
    ("more than 20 skills", need_body(skills=[f"s{i}" for i in range(21)]), "skills"),
    ("skills not a list", need_body(skills="cooking"), "skills"),
    ("due_at not a time", need_body(due_at="next week"), "due_at"),
    ("due_at without a time zone", need_body(due_at="2031-01-01T10:00:00"), "due_at"),
    ("due_at in the past", need_body(due_at="2020-01-01T00:00:00Z"), "due_at"),
    ("malformed community", need_body(community_id="Not A Path"), "community_id"),
    ("unknown community", need_body(community_id=COMMUNITY + ".nowhere"), "community_id"),
    ("a street, not a community", need_body(community_id="zhongshan.hongyan"), "community_id"),
    ("a field clients may not set", need_body(status="open"), "status"),
]


async def stored_state(app: Any) -> tuple[int, int]:
    """(head documents, commit documents) of the needs store."""
    store = app.state.deps.repo.store
    return await store.heads.count_documents({}), await store.commits.count_documents({})


def names_field(resp: httpx.Response, field: str) -> bool:
    error = resp.json()["error"]
    return field in error["message"] or field in str(error["details"])


async def test_bad_needs_are_refused_naming_the_field_and_leave_no_trace(
    settings: Settings,
) -> None:
    admin = auth(settings, "district_admin", "zhongshan")
    async with needs_service(settings, org_unit("zhongshan.hongyan", "street")) as (app, client):
        assert await stored_state(app) == (0, 0)
        for what, body, field in BAD_NEEDS:
            resp = await client.post("/v1/needs", json=body, headers=admin)
            assert resp.status_code == 422, (what, resp.text)
            assert names_field(resp, field), (what, resp.text)
        for what, content in (("not JSON", b"{title:"), ("a list", b"[]")):
            resp = await client.post(
                "/v1/needs",
                content=content,
                headers={**admin, "content-type": "application/json"},
            )
            assert resp.status_code == 422, (what, resp.text)
        huge = need_body(description="x" * (settings.max_body_bytes + 1))
        assert (await client.post("/v1/needs", json=huge, headers=admin)).status_code == 413
        bad_key = {**admin, "Idempotency-Key": "k" * 201}
        resp = await client.post("/v1/needs", json=need_body(), headers=bad_key)
        assert resp.status_code == 422 and names_field(resp, "Idempotency-Key")
        assert await stored_state(app) == (0, 0)
        assert await app.state.deps.repo.store.outbox.markers.count_documents({}) == 0
        assert await read_topic(settings, settings.topics.needs, timeout=2) == []


BAD_CLAIMS: list[tuple[str, dict[str, Any]]] = [
    ("no claimant", {}),
    ("two claimants", {"volunteer_id": "v1", "organization_id": "o1"}),
    ("a team without members", {"team_id": "t1"}),
    ("an empty member list", {"team_id": "t1", "member_ids": []}),
    ("members without a team", {"volunteer_id": "v1", "member_ids": ["v1"]}),
    ("slots on a volunteer's claim", {"volunteer_id": "v1", "slots": 2}),
    ("zero slots for an organisation", {"organization_id": "o1", "slots": 0}),
    ("an id of the wrong type", {"volunteer_id": 5}),
    ("an id with spaces", {"volunteer_id": "v 1"}),
]
BAD_COMPLETIONS: list[tuple[str, dict[str, Any], str]] = [
    ("zero hours", {"hours": [{"volunteer_id": "v1", "hours": 0}]}, "hours"),
    ("negative hours", {"hours": [{"volunteer_id": "v1", "hours": -2}]}, "hours"),
    ("over 24 hours", {"hours": [{"volunteer_id": "v1", "hours": 24.5}]}, "hours"),
    ("hours as text", {"hours": [{"volunteer_id": "v1", "hours": "2"}]}, "hours"),
    ("hours for a non-claimer", {"hours": [{"volunteer_id": "v2", "hours": 2}]}, "hours"),
    (
        "one volunteer twice",
        {"hours": [{"volunteer_id": "v1", "hours": 2}, {"volunteer_id": "v1", "hours": 3}]},
        "hours",
    ),
    ("negative beneficiaries", {"beneficiaries_served": -1}, "beneficiaries_served"),
    ("fractional goods", {"goods_count": 1.5}, "goods_count"),
    ("negative funds", {"funds_cents": -5}, "funds_cents"),
    ("note over 2000 chars", {"note": "x" * 2001}, "note"),
    ("evidence not a web link", {"evidence_urls": ["ftp://x/y"]}, "evidence_urls"),
    ("unknown field", {"hours_total": 3}, "hours_total"),
]
BAD_CONFIRMATIONS: list[tuple[str, dict[str, Any], str]] = [
    ("rating 0", {"rating": 0}, "rating"),
    ("rating 6", {"rating": 6}, "rating"),
    ("rating as text", {"rating": "5"}, "rating"),
    ("fractional rating", {"rating": 4.5}, "rating"),
    ("no rating", {"comment": "好"}, "rating"),
    ("comment over 1000 chars", {"rating": 5, "comment": "x" * 1001}, "comment"),
]


async def test_bad_claims_completions_confirmations_and_queries_change_nothing(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    vol = auth(settings, "volunteer", COMMUNITY, sub="v1")
    async with needs_service(settings, volunteer("v1"), volunteer("v2")) as (app, client):
        claimed = (await client.post("/v1/needs", json=need_body(), headers=resident)).json()["id"]
        await client.post(f"/v1/needs/{claimed}/approve", headers=admin)
        resp = await client.post(
            f"/v1/needs/{claimed}/claims", json={"volunteer_id": "v1"}, headers=vol
        )
        assert resp.status_code == 201
        completed = (await client.post("/v1/needs", json=need_body(), headers=resident)).json()[
            "id"
        ]
        await client.post(f"/v1/needs/{completed}/approve", headers=admin)
        await client.post(f"/v1/needs/{completed}/claims", json={"volunteer_id": "v1"}, headers=vol)
        await client.post(f"/v1/needs/{completed}/completion", json={}, headers=vol)
        before = await stored_state(app)

        for what, body in BAD_CLAIMS:
            resp = await client.post(f"/v1/needs/{claimed}/claims", json=body, headers=vol)
            assert resp.status_code == 422, (what, resp.text)
        for what, body, field in BAD_COMPLETIONS:
            resp = await client.post(f"/v1/needs/{claimed}/completion", json=body, headers=vol)
            assert resp.status_code == 422, (what, resp.text)
            assert names_field(resp, field), (what, resp.text)
        for what, body, field in BAD_CONFIRMATIONS:
            resp = await client.post(
                f"/v1/needs/{completed}/confirmation", json=body, headers=resident
            )
            assert resp.status_code == 422, (what, resp.text)
            assert names_field(resp, field), (what, resp.text)
        for what, body in (("no reason", {}), ("reason too long", {"reason": "x" * 501})):
            resp = await client.post(f"/v1/needs/{claimed}/reject", json=body, headers=admin)
            assert resp.status_code == 422, (what, resp.text)
        for params, field in (
            ({"limit": 0}, "limit"),
            ({"limit": 201}, "limit"),
            ({"status": "lost"}, "status"),
            ({"kind": "gift"}, "kind"),
            ({"scope": "Not A Path"}, "scope"),
            ({"cursor": "not-a-cursor"}, "cursor"),
        ):
            resp = await client.get("/v1/needs", params=params, headers=admin)
            assert resp.status_code == 422, (params, resp.text)
            assert names_field(resp, field), (params, resp.text)

        assert await stored_state(app) == before
        for need_id, status in ((claimed, "claimed"), (completed, "completed")):
            need = (await client.get(f"/v1/needs/{need_id}", headers=admin)).json()
            assert need["status"] == status
        # what the setup did, and nothing more
        events = events_of(await read_topic(settings, settings.topics.needs, expect=7))
        assert len(events) == 7
