"""Benchmark 6: lists with 100,000 needs and 100,000 volunteers stored (issue 19).

Long because its own FerretDB, the seeding, the services and the three kinds of listers
(wrk, paced tasks, wrk against the rate limits) are one measurement that must be read together.

A FerretDB of its own (on a free port, its data in a temporary directory) so that the shared
one is not loaded; the needs and volunteers services as `tongxin serve` processes on it.
Seeded with the stores' bulk path (`AggregateStore.commit_many`, version-1 commits and heads
of domain states, no events): 100 communities of one district, 1,000 needs and 1,000
volunteers each, a fifth of the needs open.

Figures, each over the same requests in alternating rounds:
- `GET /v1/needs?scope=<community>&status=open&limit=20` (a volunteer of the community) and
  `GET /v1/volunteers?scope=<community>&q=<surname>` (its admin): p50 and p95 through the
  service, against the list query the services sent before (a filtered, sorted find; FerretDB
  scans the collection) timed straight on the database;
- a get by id alone, and while wrk (a process of its own) keeps 8 lists of the same service in
  flight, each sent as the previous one is answered (ratio: slowed, goal < 2x);
- the same closed loop of one principal against a volunteers service with the production
  rate limits on (a third process): a volunteer's get by id from another address, paced
  within its own limits, while the listers are answered 429 beyond theirs.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from pymongo import AsyncMongoClient

from bench.common import BenchConfig, bench_settings
from bench.procs import HttpProcess, service_process
from bench.stats import Figure, Goal, percentile
from bench.wrk import WrkResult, run_wrk
from services.needs.domain.need import Need
from services.volunteers.domain.volunteer import Volunteer
from shared.auth import mint_token
from shared.mongo.client import Document, create_client
from shared.mongo.snapshots import COLLECTION as SNAPSHOTS
from shared.mongo.store import AggregateStore, NewCommit
from shared.settings import Settings
from tests.faults.cluster import ferretdb_component
from tests.helpers import free_port

DISTRICT = "benchlists"
COMMUNITIES = [f"{DISTRICT}.s{i // 10}.c{i % 10}" for i in range(100)]
TARGET = COMMUNITIES[7]
STATUSES = ["open"] * 20 + ["claimed"] * 10 + ["completed"] * 10 + ["confirmed"] * 50
STATUSES += ["pending_review"] * 5 + ["cancelled"] * 5
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "红明芳强伟丽军静敏磊燕洋勇艳杰娟涛霞平刚"
QUERY = "王"  # one surname in twenty: a full page in every community
BATCH = 1_000
LISTERS = 8
# A paced lister: a resident paging through open needs about as fast as a person taps.
PACED_PER_S = 2
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _need(i: int, community: str) -> Need:
    at = T0 + timedelta(seconds=37 * i)
    return Need.model_validate(
        {
            "id": f"need-{i:06d}",
            "community_id": community,
            "title": f"给独居老人买年货 {i}",
            "description": "每周一次，帮忙采买米面油和药品，送到家中。" * 2,
            "category": "elderly_care",
            "kind": "wish",
            "slots": 2,
            "requester": {"name": "王阿姨", "phone": f"138{i:08d}"},
            "requester_id": f"res-{i % 5000}",
            "location": {"lat": 22.5 + (i % 100) / 1000, "lon": 114.0 + (i % 70) / 1000},
            "status": STATUSES[i % len(STATUSES)],
            "posted_by": f"res-{i % 5000}",
            "created_at": at,
            "updated_at": at,
        }
    )


def _volunteer(i: int, community: str) -> Volunteer:
    rnd = random.Random(i)
    at = T0 + timedelta(seconds=11 * i)
    return Volunteer.model_validate(
        {
            "id": f"vol-{i:06d}",
            "name": rnd.choice(SURNAMES) + rnd.choice(GIVEN) + rnd.choice(GIVEN),
            "phone": f"139{i:08d}",
            "home_community_id": community,
            "party_org": "机关党支部",
            "skills": ["haircut"] if i % 3 == 0 else ["legal_advice"],
            "location": {"lat": 22.5, "lon": 114.0},
            "pledge_signed": True,
            "registered_by": "bench",
            "created_at": at,
            "updated_at": at,
        }
    )


async def seed(settings: Settings, count: int) -> float:
    """`count` needs and `count` volunteers through the stores' bulk path; seconds taken."""
    started = time.monotonic()
    client = create_client(settings)
    try:
        needs = AggregateStore(client[settings.database_name("needs")], "needs")
        volunteers = AggregateStore(client[settings.database_name("volunteers")], "volunteers")
        for start in range(0, count, BATCH):
            rows = range(start, min(count, start + BATCH))
            where = [COMMUNITIES[i % len(COMMUNITIES)] for i in rows]
            await needs.commit_many(
                [
                    NewCommit(f"need-{i:06d}", 0, _need(i, c).model_dump(mode="python"))
                    for i, c in zip(rows, where, strict=True)
                ]
            )
            await volunteers.commit_many(
                [
                    NewCommit(f"vol-{i:06d}", 0, _volunteer(i, c).model_dump(mode="json"))
                    for i, c in zip(rows, where, strict=True)
                ]
            )
    finally:
        await client.close()
    return time.monotonic() - started


def _old_needs_query(volunteer: str) -> dict[str, Any]:
    """The filter GET /v1/needs sent before the list index (services/needs/policy.py then)."""
    scope = {"community_id": {"$regex": f"^{re.escape(TARGET)}(\\.|$)"}}
    public = {"status": {"$in": ["open", "claimed", "completed", "confirmed"]}}
    visible = {
        "$or": [
            {"requester_id": volunteer},
            {"participants": volunteer},
            {**scope, **public},
            {"open_to": {"$in": [DISTRICT, ".".join(TARGET.split(".")[:2])]}, **public},
        ]
    }
    return {"$and": [{"$and": [visible, scope, {"status": "open"}]}]}


async def _timed(call: Callable[[], Awaitable[None]]) -> float:
    started = time.perf_counter()
    await call()
    return (time.perf_counter() - started) * 1000


async def _latencies(call: Callable[[], Awaitable[None]], n: int) -> list[float]:
    return [await _timed(call) for _ in range(n)]


def _ok(resp: httpx.Response) -> None:
    if resp.status_code != 200:
        raise RuntimeError(f"{resp.request.url}: {resp.status_code} {resp.text[:300]}")


async def _measure(
    cfg: BenchConfig, settings: Settings, count: int, needs: HttpProcess, vols: HttpProcess
) -> list[Figure]:
    volunteer_token = mint_token(settings, "volunteer", TARGET, "v-x")
    admin_token = mint_token(settings, "community_admin", TARGET, "a")
    volunteer = {"Authorization": f"Bearer {volunteer_token}"}
    admin = {"Authorization": f"Bearer {admin_token}"}
    need_params: dict[str, str | int] = {"scope": TARGET, "status": "open", "limit": 20}
    vol_params = {"scope": TARGET, "q": QUERY}
    # The former list queries take seconds on a loaded machine: a generous socket timeout.
    client: AsyncMongoClient[Document] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, socketTimeoutMS=300_000
    )
    db_needs = client[settings.database_name("needs")]["needs"]
    db_vols = client[settings.database_name("volunteers")]["volunteers"]
    old_vol_query = {
        "home_community_id": {"$regex": f"^{re.escape(TARGET)}(\\.|$)"},
        "name": {"$regex": QUERY, "$options": "i"},
        "active": True,
    }

    async def list_needs() -> None:
        _ok(await needs.http.get("/v1/needs", params=need_params, headers=volunteer))

    async def list_vols() -> None:
        _ok(await vols.http.get("/v1/volunteers", params=vol_params, headers=admin))

    async def old_needs() -> None:
        sort = [("created_at", -1), ("_id", -1)]
        await db_needs.find(_old_needs_query("v-x")).sort(sort).limit(21).to_list()

    async def old_vols() -> None:
        await db_vols.find(old_vol_query).sort("_id", 1).limit(51).to_list()

    ids = [f"need-{i:06d}" for i in range(7, count, len(COMMUNITIES))]  # the target community's
    vids = [f"vol-{i:06d}" for i in range(7, count, len(COMMUNITIES))]

    def get_need() -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            _ok(await needs.http.get(f"/v1/needs/{random.choice(ids)}", headers=volunteer))

        return call

    def get_vol() -> Callable[[], Awaitable[None]]:
        async def call() -> None:
            _ok(await vols.http.get(f"/v1/volunteers/{random.choice(vids)}", headers=admin))

        return call

    n, seconds = (40, 8.0) if cfg.quick else (100, 15.0)
    figures = {
        "needs": Figure("6 lists", "GET /v1/needs community open, p50", "ms"),
        "needs95": Figure(
            "6 lists",
            "GET /v1/needs community open, p95",
            "ms",
            goal=Goal("p95 < 100 ms", max_ours=100),
        ),
        "vols": Figure("6 lists", f"GET /v1/volunteers community q={QUERY}, p50", "ms"),
        "vols95": Figure(
            "6 lists",
            f"GET /v1/volunteers community q={QUERY}, p95",
            "ms",
            goal=Goal("p95 < 100 ms", max_ours=100),
        ),
        "get_needs": Figure(
            "6 lists",
            "GET /v1/needs/{id} p50, 8 listers vs alone",
            "ms",
            goal=Goal("< 2x", max_ratio=2.0),
        ),
        "get_needs_paced": Figure(
            "6 lists",
            f"GET /v1/needs/{{id}} p50, 8 listers at {PACED_PER_S}/s each vs alone",
            "ms",
            goal=Goal("< 2x", max_ratio=2.0),
        ),
        "get_vols_paced": Figure(
            "6 lists",
            f"GET /v1/volunteers/{{id}} p50, 8 listers at {PACED_PER_S}/s each vs alone",
            "ms",
            goal=Goal("< 2x", max_ratio=2.0),
        ),
        "get_vols": Figure(
            "6 lists",
            "GET /v1/volunteers/{id} p50, 8 listers vs alone",
            "ms",
            goal=Goal("< 2x", max_ratio=2.0),
        ),
    }
    for round_no in range(cfg.rounds):
        ours_n = await _latencies(list_needs, n)
        ours_v = await _latencies(list_vols, n)
        # The former queries take seconds each (minutes on a loaded machine): the first round only.
        old_n = await _latencies(old_needs, 2) if round_no == 0 else []
        old_v = await _latencies(old_vols, 2) if round_no == 0 else []
        for key, ours, old in (("needs", ours_n, old_n), ("vols", ours_v, old_v)):
            for suffix, p in (("", 50), ("95", 95)):
                fig = figures[key + suffix]
                fig.ours_runs.append(percentile(ours, p) or 0.0)
                if old:
                    fig.baseline_runs.append(percentile(old, p) or 0.0)
        for key, get, service, token, path in (
            (
                "get_needs",
                get_need(),
                needs,
                volunteer_token,
                f"/v1/needs?{urlencode(need_params)}",
            ),
            ("get_vols", get_vol(), vols, admin_token, f"/v1/volunteers?{urlencode(vol_params)}"),
        ):
            alone = await _latencies(get, n)
            busy, listers = await _under_listers(get, service, token, path, seconds)
            if listers.error_share > 0.01:
                raise RuntimeError(f"{path}: {listers.non_2xx} failed of {listers.requests}")
            figures[key].extra.setdefault("listers req/s", []).append(listers.requests_per_s)
            figures[key].baseline_runs.append(percentile(alone, 50) or 0.0)
            figures[key].ours_runs.append(percentile(busy, 50) or 0.0)
            figures[key].extra.setdefault("p95 alone, busy", []).append(
                [percentile(alone, 95), percentile(busy, 95)]
            )
            paced = await _under_paced_listers(get, partial(_list, service, token, path), seconds)
            figures[key + "_paced"].baseline_runs.append(percentile(alone, 50) or 0.0)
            figures[key + "_paced"].ours_runs.append(percentile(paced, 50) or 0.0)
    await client.close()
    for key in ("needs", "needs95", "vols", "vols95"):
        figures[key].note = "baseline: the list's former query straight on FerretDB (a scan)"
    for key in ("get_needs", "get_vols"):
        figures[key].note = "ours: while wrk keeps 8 lists in flight (closed loop); baseline: alone"
    for key in ("get_needs_paced", "get_vols_paced"):
        figures[key].note = f"ours: while 8 listers each send a list every {1 / PACED_PER_S:g} s"
    return list(figures.values())


# The listers of the rate-limited phase send as fast as they are answered, from one address
# and one principal; the get comes from another address (127.0.0.2: the loopback answers
# all of 127/8) at a pace its own limits admit (the per-principal read limit is 10/s).
GETS_PER_S = 5


async def _paced_gets(get: Callable[[], Awaitable[None]], seconds: float) -> list[float]:
    latencies: list[float] = []
    until = time.monotonic() + seconds
    while time.monotonic() < until:
        started = time.monotonic()
        latencies.append(await _timed(get))
        await asyncio.sleep(max(0.0, 1 / GETS_PER_S - (time.monotonic() - started)))
    return latencies


async def _rate_limited(cfg: BenchConfig, settings: Settings, count: int) -> list[Figure]:
    """Flat-out listers (wrk, 8 connections, one principal, one address) against a volunteers
    service with the production rate limits on (`rate_limit_*` defaults): what they cost a
    get by id of another principal from another address, against the same get alone."""
    # bench_settings starts from the tests' settings (their read limit is 30000/minute): the
    # production defaults of every rate limit here, from the settings class itself.
    production = {
        name: Settings.model_fields[name].default
        for name in Settings.model_fields
        if name.startswith("rate_limit_")
    }
    limited = settings.model_copy(update={**production, "rate_limit_enabled": True})
    proc = service_process("volunteers", limited, cfg.log_dir / "lists-rate-limited")
    fig = Figure(
        "6 lists",
        "GET /v1/volunteers/{id} p50, 8 flat-out listers, rate limits on, vs alone",
        "ms",
        goal=Goal("< 2x", max_ratio=2.0),
    )
    try:
        await proc.wait_ready(timeout=900)
        lister = mint_token(settings, "community_admin", TARGET, "a-lister")
        getter = {"Authorization": f"Bearer {mint_token(settings, 'volunteer', TARGET, 'v-g')}"}
        path = f"/v1/volunteers?{urlencode({'scope': TARGET, 'q': QUERY})}"
        vids = [f"vol-{i:06d}" for i in range(7, count, len(COMMUNITIES))]
        other = httpx.AsyncHTTPTransport(local_address="127.0.0.2")
        seconds = 8.0 if cfg.quick else 15.0
        async with httpx.AsyncClient(base_url=proc.url, transport=other, timeout=30) as client:

            async def get() -> None:
                vid = random.choice(vids)
                _ok(await client.get(f"/v1/volunteers/{vid}", headers=getter))

            for _ in range(cfg.rounds):
                alone = await _paced_gets(get, seconds - 2.0)
                load = asyncio.create_task(
                    run_wrk(
                        proc.url,
                        "get.lua",
                        [lister, path],
                        duration_s=seconds,
                        connections=LISTERS,
                    )
                )
                await asyncio.sleep(1.0)
                busy = await _paced_gets(get, seconds - 2.0)
                listers = await load
                fig.baseline_runs.append(percentile(alone, 50) or 0.0)
                fig.ours_runs.append(percentile(busy, 50) or 0.0)
                fig.extra.setdefault("p95 alone, busy", []).append(
                    [percentile(alone, 95), percentile(busy, 95)]
                )
                fig.extra.setdefault("lister req/s, of them 429 (share)", []).append(
                    [listers.requests_per_s, round(listers.non_2xx / max(1, listers.requests), 3)]
                )
        fig.note = (
            "ours: while wrk keeps 8 lists of one principal in flight, answered 200 up to its "
            "limits (600 reads a minute: the first round holds that burst) and 429 beyond; "
            "baseline: the same paced get alone"
        )
        proc.sample_peak()
        return [fig]
    finally:
        cfg.memory.record("lists", "volunteers-rate-limited", True, await proc.close())


async def _list(service: HttpProcess, token: str, path: str) -> None:
    _ok(await service.http.get(path, headers={"Authorization": f"Bearer {token}"}))


async def _under_paced_listers(
    get: Callable[[], Awaitable[None]], lister: Callable[[], Awaitable[None]], seconds: float
) -> list[float]:
    """Gets timed while 8 listers each list PACED_PER_S times a second (from the harness)."""
    stop = asyncio.Event()

    async def keep_listing(offset: float) -> None:
        await asyncio.sleep(offset)
        while not stop.is_set():
            started = time.monotonic()
            await lister()
            await asyncio.sleep(max(0.0, 1 / PACED_PER_S - (time.monotonic() - started)))

    tasks = [asyncio.create_task(keep_listing(i / PACED_PER_S / LISTERS)) for i in range(LISTERS)]
    try:
        await asyncio.sleep(1.0)
        latencies: list[float] = []
        until = time.monotonic() + seconds - 2.0
        while time.monotonic() < until:
            latencies.append(await _timed(get))
        return latencies
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def _under_listers(
    get: Callable[[], Awaitable[None]], service: HttpProcess, token: str, path: str, seconds: float
) -> tuple[list[float], WrkResult]:
    """Gets timed while wrk (its own process, on the load CPU) keeps 8 lists in flight."""
    load = asyncio.create_task(
        run_wrk(service.url, "get.lua", [token, path], duration_s=seconds, connections=LISTERS)
    )
    await asyncio.sleep(1.0)  # all eight in flight
    latencies: list[float] = []
    until = time.monotonic() + seconds - 2.0
    while time.monotonic() < until:
        latencies.append(await _timed(get))
    return latencies, await load


async def _start(settings: Settings, cfg: BenchConfig) -> tuple[list[HttpProcess], float]:
    """Both services started at once; seconds until both are ready."""
    started = time.monotonic()
    procs = [service_process(s, settings, cfg.log_dir / "lists") for s in ("needs", "volunteers")]
    for proc in procs:
        await proc.wait_ready(timeout=900)
    return procs, time.monotonic() - started


async def _snapshots_saved(settings: Settings, count: int, timeout: float = 600) -> None:
    """Until each service has saved a snapshot of its whole list index (after its full load)."""
    client = create_client(settings)
    deadline = time.monotonic() + timeout
    try:
        for service in ("needs", "volunteers"):
            snapshots = client[settings.database_name(service)][SNAPSHOTS]
            while True:
                pointer = await snapshots.find_one({"_id": f"{service}_list"}, {"rows": 1})
                if pointer is not None and pointer["rows"] >= count:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{service}: no snapshot of {count:,} entries saved")
                await asyncio.sleep(1.0)
    finally:
        await client.close()


async def run(cfg: BenchConfig) -> list[Figure]:
    count = 10_000 if cfg.quick else 100_000
    directory = Path(tempfile.mkdtemp(prefix="tongxin-bench-lists-"))
    ferretdb = ferretdb_component(directory, free_port())
    ferretdb.start()
    procs: list[HttpProcess] = []
    try:
        await ferretdb.wait_ready()
        settings = bench_settings(mongodb_url=f"mongodb://127.0.0.1:{ferretdb.port}/")
        seeded = await seed(settings, count)
        print(f"bench: lists: seeded {count:,} needs and {count:,} volunteers in {seeded:.0f} s")
        # The first start has no snapshot: the list indexes load in full, one scan of the
        # heads each, and save a snapshot; the second starts from it (issues 16, 19).
        procs, full_load = await _start(settings, cfg)
        print(f"bench: lists: ready after a full load in {full_load:.1f} s")
        await _snapshots_saved(settings, count)
        for proc in procs:
            await proc.close()
        procs, from_snapshot = await _start(settings, cfg)
        print(f"bench: lists: ready from the snapshots in {from_snapshot:.1f} s")
        figures = await _measure(cfg, settings, count, procs[0], procs[1])
        figures += await _rate_limited(cfg, settings, count)
        for proc in procs:
            proc.sample_peak()
        figures.append(
            Figure(
                "6 lists",
                f"start-up to ready with {count:,} stored (both services), from a snapshot",
                "s",
                ours_runs=[round(from_snapshot, 1)],
                baseline_runs=[round(full_load, 1)],
                goal=Goal("< 30 s", max_ours=30),
                note="baseline: the same start with no snapshot (a full load of the heads); "
                + "peak RSS MiB: "
                + ", ".join(f"{p.name} {(p.peak_kib or 0) // 1024}" for p in procs),
            )
        )
        return figures
    finally:
        for proc in procs:
            cfg.memory.record("lists", proc.name, True, await proc.close())
        ferretdb.stop()
        shutil.rmtree(directory, ignore_errors=True)
