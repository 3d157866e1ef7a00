"""A grid worker (网格员), appointed by a district admin, signs in, posts a need for 王阿姨
who is not online and later confirms its completion for her: both parties in the need's
history (her phone masked) and in its events (her name masked too). Real services, broker
and FerretDB."""

from __future__ import annotations

from tests.helpers import auth, events_of, read_topic
from tests.identity_support import DISTRICT, HEPING, identity_service, new_phone
from tests.needs_support import PHONE, need_body, needs_service, org_unit, volunteer

WANG = {"name": "王阿姨", "phone": "138****5678"}
# The public needs stream names her masked (shared.visibility.public_behalf).
WANG_MASKED = {"name": "王**", "phone": "138****5678"}


async def test_a_grid_worker_posts_and_confirms_for_a_resident_and_both_are_recorded() -> None:
    async with identity_service(identity_code_cooldown_s=0) as idp:
        s = idp.settings
        phone = new_phone()
        appointed = await idp.client.post(
            "/v1/appointments",
            json={"phone": phone, "name": "赵网格", "role": "grid_worker", "scope": HEPING},
            headers=auth(s, "district_admin", DISTRICT),
        )
        assert appointed.status_code == 201, appointed.text
        tokens = (await idp.sign_in(phone)).json()
        assert (tokens["role"], tokens["scope"]) == ("grid_worker", HEPING)
        worker = tokens["sub"]
        grid = {"Authorization": f"Bearer {tokens['access_token']}"}
        admin = auth(s, "community_admin", HEPING)
        vol = auth(s, "volunteer", HEPING, sub="v-li")

        async with needs_service(s, org_unit(HEPING), volunteer("v-li", HEPING)) as (_, needs):
            outside = await needs.post("/v1/needs", json=need_body(), headers=grid)
            assert outside.status_code == 403  # another community than the worker's

            posted = await needs.post("/v1/needs", json=need_body(HEPING), headers=grid)
            assert posted.status_code == 201, posted.text
            need = posted.json()
            need_id = need["id"]
            assert need["on_behalf_of"] == WANG
            assert (need["requester_id"], need["posted_by"]) == (worker, worker)

            assert (await needs.post(f"/v1/needs/{need_id}/approve", headers=admin)).is_success
            claim = await needs.post(
                f"/v1/needs/{need_id}/claims", json={"volunteer_id": "v-li"}, headers=vol
            )
            assert claim.status_code == 201, claim.text
            done = await needs.post(
                f"/v1/needs/{need_id}/completion",
                json={"hours": [{"volunteer_id": "v-li", "hours": 1.5}], "note": "已送达"},
                headers=vol,
            )
            assert done.status_code == 200, done.text
            confirmed = await needs.post(
                f"/v1/needs/{need_id}/confirmation", json={"rating": 5}, headers=grid
            )
            assert confirmed.status_code == 200, confirmed.text

            history = (await needs.get(f"/v1/needs/{need_id}/history", headers=admin)).json()
            acts = {h["action"]: h for h in history["items"]}
            for action in ("post", "confirm"):
                assert acts[action]["on_behalf_of"] == WANG
                assert acts[action]["acted_by"] == worker == acts[action]["actor"]
                assert acts[action]["role"] == "grid_worker"
            assert acts["approve"]["on_behalf_of"] is None

        records = await read_topic(s, s.topics.needs, expect=5, timeout=20)
        events = {e.type: e for e in events_of(records) if e.subject == need_id}
        for kind in ("org.tongxin.need.posted", "org.tongxin.task.confirmed"):
            assert events[kind].data["on_behalf_of"] == WANG_MASKED
            assert events[kind].data["acted_by"] == worker
        assert all(PHONE not in e.model_dump_json() for e in events.values())
        assert all("王阿姨" not in e.model_dump_json() for e in events.values())
