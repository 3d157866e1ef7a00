"""A restarted needs service loads its list index from the newest snapshot and the needs stream
from the offsets that snapshot reflects (shared.listed_heads, shared.mongo.snapshots): ready,
it holds what a full load of the heads holds, changes made after the snapshot included."""

from __future__ import annotations

import httpx

from services.needs.app import create_app as needs_app
from shared.listed_heads import ListedHeads
from shared.settings import Settings
from tests.helpers import auth, eventually, read_topic, running
from tests.integration.test_list_index import listed
from tests.needs_support import COMMUNITY, need_body, needs_service


def lists_of(app: object) -> ListedHeads:  # type: ignore[type-arg]
    return app.state.deps.repo.lists  # type: ignore[attr-defined, no-any-return]


async def test_a_needs_service_restarted_from_a_snapshot_holds_what_a_full_load_holds(
    settings: Settings,
) -> None:
    admin = auth(settings, "community_admin", COMMUNITY)
    resident = auth(settings, "resident", COMMUNITY, sub="res-1")
    # No periodic snapshot: the one taken is the one the test takes.
    quiet = settings.model_copy(update={"read_model_snapshot_s": 3600.0})

    async def post(client: httpx.AsyncClient) -> str:
        resp = await client.post("/v1/needs", json=need_body(), headers=resident)
        assert resp.status_code == 201, resp.text
        return str(resp.json()["id"])

    async with needs_service(quiet) as (app, a):
        lists = lists_of(app)
        await eventually(lists.snapshots.load, timeout=30)  # the one saved after its load
        before = [await post(a) for _ in range(3)]
        await eventually(lambda: _applied(lists, 3), timeout=30)
        assert await lists.save_snapshot()
        after = [await post(a) for _ in range(2)]
        resp = await a.post(f"/v1/needs/{before[0]}/approve", headers=admin)
        assert resp.status_code == 200, resp.text
        # everything relayed before A stops (five posted, one approved)
        await read_topic(settings, settings.topics.needs, expect=6, timeout=30)

    restarted_app = needs_app(quiet)
    full_app = needs_app(settings.model_copy(update={"read_model_snapshot_s": 0.0}))
    async with running(restarted_app) as b, running(full_app) as c:
        restarted, full = lists_of(restarted_app), lists_of(full_app)
        await restarted.loaded.wait()
        await full.loaded.wait()
        assert restarted.source == "snapshot" and full.source == "heads"
        assert restarted.replayed >= 3  # the two posts and the approval after the snapshot
        assert restarted.index.entries == full.index.entries
        assert set(restarted.index.entries) == {*before, *after}
        assert await listed(b, "/v1/needs", admin) == await listed(c, "/v1/needs", admin)
        assert await listed(b, "/v1/needs", admin, status="open") == {before[0]}
        # and it goes on following: a need posted on C is listed on B
        later = await post(c)
        await eventually(lambda: _listed(b, admin, later), timeout=30)


async def _applied(lists: ListedHeads, count: int) -> bool:  # type: ignore[type-arg]
    """Whether the follower has applied `count` events of the stream (its own come back)."""
    return sum(lists.follower.applied.values()) >= count


async def _listed(client: httpx.AsyncClient, headers: dict[str, str], need_id: str) -> bool:
    return need_id in await listed(client, "/v1/needs", headers)
