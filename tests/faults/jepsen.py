"""A workload through the real HTTP APIs, a nemesis on a seeded schedule, and a checker.

Long because workload, nemesis and checker are one harness whose parts share the history they
record.

The clients post needs (with an Idempotency-Key, retried until answered) and approve them.
Every 2xx is an acknowledged write. Meanwhile the nemesis kills (SIGKILL), freezes
(SIGSTOP … SIGCONT) and restarts the broker, FerretDB and the services. After a quiet
period the checker compares what the clients were told with what the system holds: each
acknowledged need in the needs service, its events on the topic (copies per distinct event),
and the metrics service's count of it (each event counted once).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from shared.events.envelope import CloudEvent
from shared.settings import Settings
from tests.faults.cluster import Component, PrivateCluster
from tests.helpers import ServiceProcess, auth, read_topic
from tests.needs_support import org_unit, publish

DISTRICT = "faultdistrict"
STREET = f"{DISTRICT}.street"
COMMUNITIES = [f"{STREET}.c{i}" for i in range(3)]
FAULT_KINDS = ("kill", "pause", "restart")


class Service:
    """A service process the nemesis can kill and restart (a new process each time)."""

    def __init__(
        self, name: str, settings: Settings, log_dir: str, module: str = "shared.cli"
    ) -> None:
        self.name = name
        self._settings = settings
        self._log = f"{log_dir}/{name}.log"
        self._module = module
        self.proc = ServiceProcess(name, settings, self._log, module)
        self.restarts = 0

    @property
    def url(self) -> str:
        return self.proc.url

    def kill(self) -> None:
        self.proc.kill(9)

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.proc = ServiceProcess(self.name, self._settings, self._log, self._module)

    async def wait_ready(self, timeout: float = 90.0) -> float:
        started = time.monotonic()
        await self.proc.wait_ready(timeout)
        return time.monotonic() - started


@dataclass
class History:
    """What the clients were told, and what the nemesis did."""

    posted: dict[str, str] = field(default_factory=dict)  # need id → community
    approved: set[str] = field(default_factory=set)
    failed_requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    recoveries: dict[str, float] = field(default_factory=dict)  # component → longest seconds
    log: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {line}")


async def ask(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    history: History,
    deadline: float,
    **kwargs: Any,
) -> httpx.Response | None:
    """One client request, retried (same body and key) until answered or the run ends."""
    while time.monotonic() < deadline:
        try:
            resp = await client.request(method, url, timeout=10, **kwargs)
        except httpx.HTTPError:
            resp = None
        if resp is not None and resp.status_code < 500:
            return resp
        history.failed_requests += 1
        await asyncio.sleep(0.3)
    return None


async def client_loop(
    settings: Settings,
    needs: Service,
    history: History,
    stopped: asyncio.Event,
    rng: random.Random,
    client_no: int,
) -> None:
    """Posts and approves until `stopped`; a request in hand is retried until answered."""
    async with httpx.AsyncClient() as client:
        while not stopped.is_set():
            community = rng.choice(COMMUNITIES)
            body = {
                "community_id": community,
                "title": f"故障测试需求 {client_no}-{uuid.uuid4().hex[:6]}",
                "category": "elderly_care",
                "requester": {"name": "王阿姨", "phone": "13812345678"},
            }
            headers = {
                **auth(settings, "resident", community, f"r{client_no}"),
                "Idempotency-Key": uuid.uuid4().hex,
            }
            # the retry deadline outlives the run: an answered request is what we check
            resp = await ask(
                client,
                "POST",
                f"{needs.url}/v1/needs",
                history,
                time.monotonic() + 120,
                json=body,
                headers=headers,
            )
            if resp is None or resp.status_code != 201:
                continue
            need_id = resp.json()["id"]
            history.posted[need_id] = community
            if rng.random() < 0.5:
                admin = auth(settings, "community_admin", community, f"admin{client_no}")
                resp = await ask(
                    client,
                    "POST",
                    f"{needs.url}/v1/needs/{need_id}/approve",
                    history,
                    time.monotonic() + 120,
                    headers=admin,
                )
                if resp is not None and resp.status_code == 200:
                    history.approved.add(need_id)


Target = Component | Service


async def all_ready(services: Sequence[Service], timeout: float = 120.0) -> float:
    """Seconds until every service answers /readyz 200 (the broker and FerretDB with it)."""
    started = time.monotonic()
    await asyncio.gather(*(s.wait_ready(timeout) for s in services))
    return time.monotonic() - started


async def nemesis(
    targets: dict[str, Target],
    services: Sequence[Service],
    history: History,
    faults: int,
    rng: random.Random,
    interval_s: float,
    fault_s: float,
) -> None:
    """On the seeded schedule: `faults` faults, one at a time on one target, `interval_s`
    apart; recovery is the time from the fault's end until every service is ready again."""
    for _ in range(faults):
        await asyncio.sleep(interval_s)
        name = rng.choice(sorted(targets))
        target = targets[name]
        kind = "restart" if isinstance(target, Service) else rng.choice(FAULT_KINDS)
        history.note(f"nemesis: {kind} {name}")
        if kind == "pause" and isinstance(target, Component):
            target.pause()
            await asyncio.sleep(fault_s)
            target.resume()
        elif kind == "kill" and isinstance(target, Component):
            target.kill()
            await asyncio.sleep(fault_s)
            target.start()
        else:
            target.restart()
        history.faults[f"{kind} {name}"] += 1
        took = await all_ready(services)
        key = f"{kind} {name}"
        history.recoveries[key] = max(history.recoveries.get(key, 0.0), took)
        history.note(f"nemesis: ready again {took:.1f}s after {kind} {name}")
    await asyncio.sleep(interval_s)  # load goes on after the last recovery


async def read_all(settings: Settings, topic: str, at_least: int, quiet_s: float) -> list[Any]:
    """The topic's records: at least `at_least`, then until none came for 3 s; at most
    2 × quiet_s in all (a topic that keeps growing, as a broken relay makes it, is read
    as far as it got)."""
    deadline = time.monotonic() + 2 * quiet_s
    records = await read_topic(settings, topic, expect=at_least, timeout=quiet_s)
    while time.monotonic() < deadline:
        more = await read_topic(settings, topic, expect=len(records) + 1, timeout=3)
        if len(more) <= len(records):
            break
        records = more
    return records


@dataclass
class Verdict:
    acknowledged: int
    lost: list[str]
    duplicated_effects: list[str]
    copies_per_event: float
    events_on_topic: int
    distinct_events: int
    history: History

    @property
    def ok(self) -> bool:
        return not self.lost and not self.duplicated_effects and self.copies_per_event <= 1.01

    def table(self) -> str:
        rows = [("faults injected", str(sum(self.history.faults.values())))]
        rows += [(f"  {kind}", str(n)) for kind, n in sorted(self.history.faults.items())]
        rows += [
            ("acknowledged writes", str(self.acknowledged)),
            ("client requests retried", str(self.history.failed_requests)),
            ("lost", str(len(self.lost))),
            ("duplicated effects", str(len(self.duplicated_effects))),
            ("events on tongxin.needs.v1", str(self.events_on_topic)),
            ("distinct events", str(self.distinct_events)),
            ("copies per distinct event", f"{self.copies_per_event:.4f}"),
        ]
        rows += [
            (f"longest recovery after {name}", f"{s:.1f} s")
            for name, s in sorted(self.history.recoveries.items())
        ]
        width = max(len(r[0]) for r in rows)
        return "\n".join(f"{k.ljust(width)}  {v}" for k, v in rows)


async def check(
    settings: Settings, needs: Service, metrics: Service, history: History, quiet_s: float
) -> Verdict:
    """After the quiet period: acknowledged writes against state, topic and projection."""
    lost: list[str] = []
    duplicated: list[str] = []
    posted_ids = set(history.posted)
    records = await read_all(
        settings, settings.topics.needs, len(posted_ids) + len(history.approved), quiet_s
    )
    events = [CloudEvent.from_bytes(r.value or b"") for r in records]
    copies = Counter(e.id for e in events)
    by_type: dict[str, Counter[str]] = {}
    for e in {e.id: e for e in events}.values():
        by_type.setdefault(e.type, Counter())[e.subject] += 1
    posted_events = by_type.get("org.tongxin.need.posted", Counter())
    approved_events = by_type.get("org.tongxin.need.approved", Counter())
    async with httpx.AsyncClient(base_url=needs.url) as client:
        admin = auth(settings, "district_admin", DISTRICT, "checker")
        for need_id in sorted(posted_ids):
            resp = await client.get(f"/v1/needs/{need_id}", headers=admin, timeout=10)
            if resp.status_code != 200:
                lost.append(f"need {need_id}: GET answered {resp.status_code}")
            elif need_id in history.approved and resp.json()["status"] != "open":
                lost.append(f"need {need_id}: approved but {resp.json()['status']}")
            if posted_events[need_id] != 1:
                (lost if posted_events[need_id] == 0 else duplicated).append(
                    f"need {need_id}: {posted_events[need_id]} distinct need.posted events"
                )
        for need_id in sorted(history.approved):
            if approved_events[need_id] == 0:
                lost.append(f"need {need_id}: approval acknowledged, no need.approved event")
    unexpected = set(posted_events) - posted_ids
    async with httpx.AsyncClient(base_url=metrics.url) as client:
        operator = auth(settings, "operator", DISTRICT, "checker")
        deadline = time.monotonic() + quiet_s
        counted: dict[str, Any] = {}
        while time.monotonic() < deadline:
            resp = await client.get("/v1/stats", params={"scope": DISTRICT}, headers=operator)
            counted = resp.json() if resp.status_code == 200 else {}
            if counted.get("needs_posted") == len(posted_events):
                break
            await asyncio.sleep(1)
    if counted.get("needs_posted") != len(posted_events):
        wrong = duplicated if counted.get("needs_posted", 0) > len(posted_events) else lost
        wrong.append(
            f"metrics counts {counted.get('needs_posted')} needs posted, "
            f"the topic holds {len(posted_events)}"
        )
    history.note(f"checker: {len(unexpected)} posted needs no client was told of (allowed)")
    return Verdict(
        acknowledged=len(posted_ids) + len(history.approved),
        lost=lost,
        duplicated_effects=duplicated,
        copies_per_event=(len(events) / len(copies)) if copies else 1.0,
        events_on_topic=len(events),
        distinct_events=len(copies),
        history=history,
    )


async def run(
    settings: Settings,
    cluster: PrivateCluster,
    log_dir: str,
    *,
    seed: int,
    faults: int,
    clients: int,
    interval_s: float,
    fault_s: float,
    quiet_s: float,
    needs_module: str = "shared.cli",
    targets: Sequence[str] = ("kafka", "ferretdb", "needs", "metrics"),
    report: Callable[[str], None] = print,
) -> Verdict:
    rng = random.Random(seed)
    history = History()
    await publish(
        settings,
        org_unit(DISTRICT, "district"),
        org_unit(STREET, "street"),
        *[org_unit(c) for c in COMMUNITIES],
    )
    needs = Service("needs", settings, log_dir, needs_module)
    metrics = Service("metrics", settings, log_dir)
    try:
        await asyncio.gather(needs.wait_ready(), metrics.wait_ready())
        # the needs service learns the communities from the stream before it takes needs
        await asyncio.sleep(2)
        everything: dict[str, Target] = {
            "kafka": cluster.kafka,
            "ferretdb": cluster.ferretdb,
            "needs": needs,
            "metrics": metrics,
        }
        chosen = {name: everything[name] for name in targets}
        stopped = asyncio.Event()

        async def faults_then_stop() -> None:
            try:
                await nemesis(chosen, [needs, metrics], history, faults, rng, interval_s, fault_s)
            finally:
                stopped.set()

        await asyncio.gather(
            faults_then_stop(),
            *[client_loop(settings, needs, history, stopped, rng, i) for i in range(clients)],
        )
        history.note("quiet period")
        verdict = await check(settings, needs, metrics, history, quiet_s)
        report(verdict.table())
        if not verdict.ok:
            report("\n".join(history.log + verdict.lost[:20] + verdict.duplicated_effects[:20]))
        return verdict
    finally:
        needs.kill()
        metrics.kill()
