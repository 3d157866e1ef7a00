"""A run of the faults suite: every service on a private broker and FerretDB, the clients'
mix (tests/faults/workload.py) under a nemesis on a seeded schedule (nemesis.py), a quiet
period, and the checker (checker.py) with its table.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import random
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from shared.settings import Settings
from tests.faults.checker import Checker, Verdict, quiet
from tests.faults.cluster import Component, PrivateCluster
from tests.faults.nemesis import Service, all_ready, nemesis, schedule
from tests.faults.workload import (
    Client,
    History,
    Poisoner,
    Url,
    seed_org_tree,
    subscribe_webhooks,
)
from tests.helpers import free_port

SERVICES = ("identity", "volunteers", "needs", "notify", "metrics")
# What a run needs beyond the test's settings: the nemesis's hook, a webhook receiver on
# loopback allowed, quick notification retries, contacts not confirmed by code.
RUN_SETTINGS: dict[str, Any] = {
    "fault_hooks": True,
    # a handler's retries as deployed (isolated_settings makes them 3 × 10 ms for speed)
    "consumer_max_attempts": 5,
    "consumer_retry_base_s": 0.2,
    "consumer_retry_max_s": 5.0,
    "outbound_allow_networks": ["127.0.0.1/32"],
    "notify_confirm_contacts": False,
    "notify_dispatch_poll_s": 0.2,
    "notify_retry_base_s": 0.5,
    "notify_retry_max_s": 5.0,
    "notify_max_attempts": 10,
    "notify_webhook_timeout_s": 5.0,
}


@asynccontextmanager
async def webhook_receiver(receipts: Counter[str], secrets: dict[str, str]) -> AsyncIterator[str]:
    """A local HTTP server counting signed deliveries by X-Tongxin-Delivery; yields its URL."""
    import uvicorn

    async def receive(request: Request) -> Response:
        body = await request.body()
        secret = secrets.get(request.url.path, "")
        expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, request.headers.get("x-tongxin-signature", "")):
            return Response(status_code=401)
        receipts[request.headers.get("x-tongxin-delivery", "")] += 1
        return Response(status_code=200)

    app = Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            await task
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def url_of(service: Service) -> Url:
    return lambda: service.url


async def run(
    settings: Settings,
    cluster: PrivateCluster,
    log_dir: str,
    *,
    seed: int,
    faults_per_kind: int,
    clients: int,
    interval_s: float,
    fault_s: float,
    quiet_s: float,
    roster_rows: int = 0,
    roster_every_s: float = 0.0,
    modules: Mapping[str, str] | None = None,
    plan: Sequence[tuple[str, str]] | None = None,
    report: Callable[[str], None] = print,
) -> Verdict:
    started = time.monotonic()
    rng = random.Random(seed)
    history = History()
    s = settings.model_copy(update=RUN_SETTINGS)
    receipts: Counter[str] = Counter()
    secrets: dict[str, str] = {}
    services: dict[str, Service] = {}
    async with webhook_receiver(receipts, secrets) as hook_url:
        try:
            for name in SERVICES:
                module = (modules or {}).get(name, "shared.cli")
                services[name] = Service(name, s, log_dir, module)
            await all_ready(list(services.values()))
            history.note(f"services ready after {time.monotonic() - started:.0f} s")
            urls: dict[str, Url] = {n: url_of(svc) for n, svc in services.items()}
            await seed_org_tree(s, urls, history)
            secrets.update(await subscribe_webhooks(s, urls, history, hook_url))
            poisoner = Poisoner(s, history, rng)
            people = [
                Client(i, s, urls, history, random.Random(seed * 1000 + i), poisoner)
                for i in range(clients)
            ]
            await asyncio.gather(*(c.first_volunteers(6) for c in people))
            await asyncio.sleep(5)  # the needs service hears of them before the first race
            targets: dict[str, Component | Service] = {
                "kafka": cluster.kafka,
                "ferretdb": cluster.ferretdb,
                **services,
            }
            if plan is None:
                plan = schedule(rng, faults_per_kind, sorted(targets), sorted(services))
            history.note(f"load starts, {len(plan)} faults planned")
            stopped = asyncio.Event()

            async def faults_then_stop() -> None:
                try:
                    await nemesis(
                        plan, targets, list(services.values()), history, interval_s, fault_s
                    )
                finally:
                    stopped.set()

            offices = [
                c.import_rosters(stopped, roster_rows, roster_every_s)
                for c in people[:3]
                if roster_rows
            ]
            await asyncio.gather(faults_then_stop(), *(c.run(stopped) for c in people), *offices)
            history.note("quiet period")
            await all_ready(list(services.values()))
            await quiet(s, history, min(20.0, quiet_s / 3), quiet_s, list(services))
            history.note(f"checker starts, {history.acknowledged} acknowledged writes")
            checker = Checker(s, urls, history, receipts, settle_s=quiet_s)
            verdict = await checker.run()
            verdict.duration_s = time.monotonic() - started
            report(verdict.table())
            sys.stdout.flush()
            if not verdict.ok:
                checker.dump(f"{log_dir}/events.jsonl")
                report(f"every event: {log_dir}/events.jsonl; the services' logs beside it")
                report("\n".join(history.log[-200:]))
                report("\n".join(verdict.lost[:30] + verdict.duplicated[:30]))
            return verdict
        finally:
            for svc in services.values():
                svc.kill()
