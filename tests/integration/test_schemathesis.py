"""schemathesis over every service's OpenAPI document, all checks, a fixed seed (issue 19).

Each service is served over real HTTP on the shared broker and FerretDB (its own topics and
databases), knows a small seeded org tree, and is driven by schemathesis' engine (the phases
of `schemathesis run`: examples, coverage, fuzzing, stateful) with the Python API's
equivalent of `--checks all`, as a district admin of the seeded district. Any failure of
any check (a 5xx, an undocumented status, a body or header not as documented, bad data
accepted, good data refused, auth ignored, ...) fails the test with what to replay.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.engine import Status, from_schema
from schemathesis.engine import events as st_events

from services.identity.app import create_app as identity_app
from services.metrics.app import create_app as metrics_app
from services.needs.app import create_app as needs_app
from services.notify.app import create_app as notify_app
from services.volunteers.app import create_app as volunteers_app
from shared.settings import Settings
from tests.helpers import free_port, handled, serving, token
from tests.integration.test_notify_support import notify_settings
from tests.needs_support import DISTRICT, org_unit, publish

# Fixed: the same cases every run (shown in a failure, with what to replay).
SEED = int(os.environ.get("TONGXIN_SCHEMATHESIS_SEED", "19"))
MAX_EXAMPLES = int(os.environ.get("TONGXIN_SCHEMATHESIS_EXAMPLES", "5"))
ORG_TREE = (
    (DISTRICT, "district"),
    ("zhongshan.hongyan", "street"),
    ("zhongshan.hongyan.dongfeng", "community"),
    ("zhongshan.hongyan.xinhua", "community"),
)


@dataclass
class Outcome:
    cases: int = 0
    failures: list[str] = field(default_factory=list)
    seconds: float = 0.0


def _describe(recorder: Any, case_id: str, failure: Any) -> str:
    case = recorder.cases[case_id].value
    response = recorder.interactions.get(case_id)
    answer = response.response if response else None
    status = answer.status_code if answer else "-"
    text = answer.content.decode(errors="replace")[:300] if answer and answer.content else ""
    sent = response.request if response else None
    if sent is not None:
        text += f"\n    sent: {sent.headers.get('Content-Type')} {(sent.body or b'')[:300]!r}"
    return (
        f"{case.operation.label} [{failure.title}] -> {status}: {failure.message}\n"
        f"    {case.method} {case.formatted_path} query={case.query} "
        f"headers={ {k: v[:40] for k, v in (case.headers or {}).items()} } "
        f"body={case.body!r}"[:1200]
        + f"\n    answer: {text}"
    )


def run_schemathesis(spec: dict[str, Any], base_url: str, bearer: str) -> Outcome:
    """The engine of `schemathesis run --checks all --seed SEED --max-examples N`."""
    config = schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "base-url": base_url,
            "generation": {
                "mode": "all",
                "max-examples": MAX_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
            "auth": {"openapi": {"bearer": {"bearer": bearer}}},
            # Every check (`--checks all`); max_response_time has no limit set, so it stays
            # off: speed is measured by the benchmarks, never asserted by a test.
            "checks": {"enabled": True},
            "request-timeout": 30,
            # the inbox stream: its first event, then the client hangs up
            "max-stream-events": 1,
            "warnings": False,
            "cache": {"enabled": False},  # the same cases every run, nothing written
            "operations": [
                {
                    # An uploaded sheet is CSV or XLSX, which no schema can state: a file of
                    # random bytes is refused (422, "the CSV is neither UTF-8 nor GBK").
                    # Every other check runs on it, bad input included.
                    "include-path": "/v1/volunteers:import",
                    "include-method": "POST",
                    "checks": {"positive_data_acceptance": {"enabled": False}},
                }
            ],
        }
    )
    schema = schemathesis.openapi.from_dict(spec, config=config)
    outcome = Outcome()
    started = time.monotonic()
    for event in from_schema(schema).execute():
        if isinstance(event, st_events.ScenarioFinished):
            recorder = event.recorder
            outcome.cases += len(recorder.cases)
            seen: set[tuple[str, str]] = set()
            for case_id, checks in recorder.checks.items():
                for check in checks:
                    if check.status == Status.FAILURE and check.failure_info is not None:
                        failure = check.failure_info.failure
                        key = (recorder.label, failure.title)
                        if key not in seen:
                            seen.add(key)
                            outcome.failures.append(_describe(recorder, case_id, failure))
        elif isinstance(event, st_events.NonFatalError):
            outcome.failures.append(f"{event.label}: error {event.info.message}")
        elif isinstance(event, st_events.FatalError):
            outcome.failures.append(f"fatal: {event.exception!r}")
        elif isinstance(event, st_events.EngineFinished):
            outcome.failures += [f"after run: {f.title}: {f.message}" for f in event.failures]
    outcome.seconds = time.monotonic() - started
    return outcome


async def _knows_org_tree(app: FastAPI, settings: Settings) -> None:
    await handled(app, *await publish(settings, *(org_unit(p, lvl) for p, lvl in ORG_TREE)))


async def _puts_org_tree(app: FastAPI, settings: Settings) -> None:
    """The volunteers service owns the org tree: it is made through its own API."""
    service = {"Authorization": f"Bearer {token(settings, 'service', DISTRICT)}"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://seed") as client:
        for path, _level in ORG_TREE:
            resp = await client.put(f"/v1/orgs/{path}", json={"name": path}, headers=service)
            assert resp.status_code == 201, resp.text


Seed = Callable[[FastAPI, Settings], Awaitable[None]]
SERVICES: dict[str, tuple[Callable[[Settings], FastAPI], Seed]] = {
    "needs": (needs_app, _knows_org_tree),
    "volunteers": (volunteers_app, _puts_org_tree),
    # Webhooks to any network: which networks a deployment may call is its setting, which no
    # schema can state (the guard has its own tests: test_outbound_guard.py).
    "notify": (
        lambda s: notify_app(
            notify_settings(
                s, outbound_allow_networks=["0.0.0.0/0", "::/0"], notify_sse_heartbeat_s=0.05
            )
        ),
        _knows_org_tree,
    ),
    "metrics": (metrics_app, _knows_org_tree),
    "identity": (identity_app, _knows_org_tree),
}


@pytest.mark.parametrize("service", list(SERVICES))
async def test_schemathesis_all_checks_find_nothing(service: str, settings: Settings) -> None:
    create, seed = SERVICES[service]
    app = create(settings)
    async with serving(app, free_port()) as url:
        await seed(app, settings)
        bearer = token(settings, "district_admin", DISTRICT, sub="st-admin")
        outcome = await asyncio.to_thread(run_schemathesis, app.openapi(), url, bearer)
    print(f"{service}: {outcome.cases} cases in {outcome.seconds:.0f} s")
    assert outcome.cases > 0
    assert not outcome.failures, "\n".join(outcome.failures)
