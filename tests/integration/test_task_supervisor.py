"""A relay or consumer loop that dies while its service runs is started again by the
supervisor (shared/supervisor.py), and nothing is lost; the faults suite's hook that cancels
one exists only when TONGXIN_FAULT_HOOKS is on, never in the prod profile."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from services.needs.app import create_app
from shared.metrics import TASK_RESTARTS
from shared.settings import Settings
from tests.helpers import auth, eventually, handled, read_topic, running
from tests.needs_support import COMMUNITIES, COMMUNITY, need_body, org_unit, publish


def restarts(service: str, task: str) -> float:
    return TASK_RESTARTS.labels(service, task)._value.get()  # type: ignore[no-any-return]


async def test_a_cancelled_relay_and_consumer_come_back_and_lose_nothing(
    settings: Settings,
) -> None:
    s = settings.model_copy(update={"fault_hooks": True})
    app = create_app(s)
    async with running(app) as client:
        runtime = app.state.runtime
        relay_before, consumer_before = restarts("needs", "relay"), restarts("needs", "consumer")

        cancelled = await client.post("/internal/faults/consumer")
        assert cancelled.status_code == 202, cancelled.text
        # published while the loop is dead: handled once it is back
        events = await publish(s, *(org_unit(c) for c in COMMUNITIES))
        await eventually(lambda: _async(restarts("needs", "consumer") > consumer_before), 30)
        await handled(app, *events)
        assert (await client.get("/readyz")).status_code == 200

        cancelled = await client.post("/internal/faults/relay")
        assert cancelled.status_code == 202, cancelled.text
        await eventually(lambda: _async(restarts("needs", "relay") > relay_before), 30)
        assert not runtime.relay.died
        posted = await client.post(
            "/v1/needs", json=need_body(), headers=auth(s, "resident", COMMUNITY, "r1")
        )
        assert posted.status_code == 201, posted.text
        records = await read_topic(s, s.topics.needs, expect=1, timeout=30)
        assert [r.key for r in records] == [posted.json()["id"].encode()]


async def test_the_hook_is_absent_unless_turned_on_and_refused_in_prod(
    settings: Settings,
) -> None:
    async with running(create_app(settings)) as client:
        assert (await client.post("/internal/faults/relay")).status_code == 404
    with pytest.raises(ValidationError, match="FAULT_HOOKS"):
        Settings(
            profile="prod",
            fault_hooks=True,
            jwks_url="https://id.example/jwks.json",
            phone_link_key="k" * 40,
        )


async def _async(value: bool) -> bool:
    return value
