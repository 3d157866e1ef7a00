"""Benchmark 3, end to end: a burst of needs approved at once, until every one is in its
volunteers' inboxes and counted in `/v1/stats`; against the raw Kafka produce→consume
round trip of as many messages.

Long because the burst, its two completions (inboxes and stats) and the raw round trip it is
compared with run in one harness.

The four services run as processes on the servers' CPU. Each community has a watcher:
a volunteer whose skills match every need of the burst, whose inbox the harness polls.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import TypeVar

from bench import contract, seed
from bench.common import BenchConfig, bench_settings, cleanup
from bench.events import DISTRICT, Campaign, wrap
from bench.procs import HttpProcess, service_process
from bench.raw_kafka import RoundTrip, produce
from bench.stats import Figure, Goal, percentile, unavailable
from shared.auth import mint_token
from shared.events.envelope import CloudEvent
from shared.events.volunteers import VolunteerRegistered
from shared.kafka.topics import ensure_topics
from shared.settings import Settings

SERVICES = ("volunteers", "needs", "notify", "metrics")
POLL_S = 0.2
# Past the minute a burst has missed its goal: stop watching it a little later.
BURST_TIMEOUT_S = 75
SKILL = "elderly_care"
REQUIRED = {
    "needs": ("POST /v1/needs", "POST /v1/needs/{id}/approve"),
    "notify": ("GET /v1/inbox",),
    "metrics": ("GET /v1/stats",),
}
NAMES = {
    "inbox": "3. end to end · burst → last in inboxes",
    "stats": "3. end to end · burst → counted in /v1/stats",
    "p50": "3. end to end · per-need latency p50",
    "p99": "3. end to end · per-need latency p99",
}


def _headers(settings: Settings, role: str, scope: str, sub: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(settings, role, scope, sub)}"}


@dataclass
class Platform:
    settings: Settings
    procs: dict[str, HttpProcess]
    watchers: dict[str, str] = field(default_factory=dict)  # community → volunteer id
    campaign: Campaign = field(default_factory=lambda: Campaign())

    def admin(self, community: str) -> dict[str, str]:
        return _headers(self.settings, "community_admin", community, f"admin-{community}")

    async def post_need(self, community: str) -> str:
        body = {
            "community_id": community,
            "title": "为独居老人送年货 / New-Year goods for an elderly resident",
            "description": "老人行动不便，需要志愿者帮忙采购 / cannot get out to shop",
            "category": SKILL,
            "requester": {"name": "王阿姨", "phone": "13800001234"},
            "beneficiaries": 1,
            "skills": [SKILL],
        }
        headers = {**self.admin(community), "Idempotency-Key": uuid.uuid4().hex}
        resp = await self.procs["needs"].http.post("/v1/needs", json=body, headers=headers)
        if resp.status_code != 201:
            raise RuntimeError(f"POST /v1/needs: {resp.status_code} {resp.text[:300]}")
        return str(resp.json()["id"])

    async def approve(self, need_id: str, community: str) -> None:
        resp = await self.procs["needs"].http.post(
            f"/v1/needs/{need_id}/approve", headers=self.admin(community)
        )
        if resp.status_code != 200:
            raise RuntimeError(f"approve: {resp.status_code} {resp.text[:300]}")

    async def inbox_needs(self, community: str) -> set[str]:
        """Need ids named by the newest items of the community watcher's inbox."""
        watcher = self.watchers[community]
        resp = await self.procs["notify"].http.get(
            "/v1/inbox",
            params={"recipient_id": watcher, "limit": 200},
            headers=_headers(self.settings, "volunteer", community, watcher),
        )
        if resp.status_code != 200:
            return set()
        return {str(i.get("need_id") or i.get("subject")) for i in resp.json().get("items", [])}

    async def approved_count(self) -> int:
        resp = await self.procs["metrics"].http.get(
            "/v1/stats",
            params={"scope": DISTRICT},
            headers=_headers(self.settings, "operator", DISTRICT, "bench-operator"),
        )
        return int(resp.json().get("needs_approved", 0)) if resp.status_code == 200 else -1


T = TypeVar("T")


async def _gather_limited(limit: int, aws: list[Awaitable[T]]) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(aw: Awaitable[T]) -> T:
        async with gate:
            return await aw

    return list(await asyncio.gather(*(one(aw) for aw in aws)))


async def _setup(p: Platform, cfg: BenchConfig) -> str:
    """Org tree and one watcher per community; returns how they were put in place."""
    communities = p.campaign.communities
    vols = p.procs["volunteers"]
    if not contract.missing("volunteers", "PUT /v1/orgs/{path}", "POST /v1/volunteers"):
        await seed.put_org_tree(vols.http, p.settings, p.campaign)
        pool = await seed.register_volunteers(vols.http, p.settings, p.campaign, 1, [SKILL])
        p.watchers = {community: vid for vid, community in pool}
        how = "org tree and watchers through the volunteers API"
    else:
        # What the volunteers service would publish, published for it.
        watchers = [
            VolunteerRegistered(
                volunteer_id=str(uuid.uuid4()),
                name="值守志愿者 / watcher",
                home_community_id=c,
                skills=[SKILL],
                registered_at=p.campaign._tick(),
            )
            for c in communities
        ]
        p.watchers = {w.home_community_id: w.volunteer_id for w in watchers}
        events = wrap([*p.campaign.org_units(), *watchers])
        await produce(
            p.settings.kafka_bootstrap, [(p.settings.topics.volunteers, e) for e in events]
        )
        how = "org tree and watchers published as volunteers events (no volunteers API yet)"
    # The needs service takes needs only for communities it has heard of.
    deadline = time.monotonic() + 60
    for community in communities:
        while True:
            try:
                await p.post_need(community)
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                await asyncio.sleep(0.5)
    return how


@dataclass
class Burst:
    inbox_s: float | None
    stats_s: float | None
    latencies: list[float]
    missing: int
    failed: list[str]


async def _burst(p: Platform, size: int, timeout: float) -> Burst:
    """Posts `size` needs, approves them all at once, and polls until each approved one is
    in its watcher's inbox and all are counted in the stats (or `timeout`)."""
    communities = p.campaign.communities
    where = [communities[i % len(communities)] for i in range(size)]
    need_ids = await _gather_limited(16, [p.post_need(c) for c in where])
    community_of = dict(zip(need_ids, where, strict=True))
    before = await p.approved_count()
    sent: dict[str, float] = {}
    failed: list[str] = []

    async def approve(need_id: str) -> None:
        sent[need_id] = time.monotonic()
        try:
            await p.approve(need_id, community_of[need_id])
        except RuntimeError as exc:  # a refused approval is a finding, not the end of the run
            failed.append(str(exc))
            del community_of[need_id]

    started = time.monotonic()
    approving = asyncio.create_task(_gather_limited(32, [approve(n) for n in need_ids]))
    seen: dict[str, float] = {}
    stats_at: float | None = None
    while time.monotonic() - started < timeout:
        await asyncio.sleep(POLL_S)
        pending = {c for n, c in community_of.items() if n not in seen}
        found = await asyncio.gather(*(p.inbox_needs(c) for c in pending))
        now = time.monotonic()
        for names in found:
            for n in names & community_of.keys():
                seen.setdefault(n, now)
        if stats_at is None and await p.approved_count() >= before + size - len(failed):
            stats_at = time.monotonic()
        if approving.done() and len(seen) == len(community_of) and stats_at is not None:
            break
    await approving
    latencies = [seen[n] - sent[n] for n in seen]
    complete = bool(seen) and len(seen) == len(community_of)
    return Burst(
        max(seen.values()) - started if complete else None,
        stats_at - started if stats_at is not None else None,
        latencies,
        len(community_of) - len(seen),
        failed,
    )


async def _raw_round_trip(cfg: BenchConfig, size: int) -> dict[str, float]:
    settings = bench_settings()
    topic = settings.topics.needs
    await ensure_topics(settings, [topic])
    try:
        campaign = Campaign()
        events: list[CloudEvent] = []
        while len(events) < size:
            events += [e for e in wrap(campaign.need_life()) if e.type.endswith("approved")]
        trip = RoundTrip(
            settings.kafka_bootstrap, topic, settings.topic_partitions, size, cfg.log_dir / "e2e"
        )
        await trip.ready()
        await produce(
            settings.kafka_bootstrap, [(topic, e) for e in events[:size]], RoundTrip.HEADER
        )
        result = await trip.result()
        cfg.memory.record("e2e", "raw round trip", False, trip.proc.peak_kib)
        lat = result["latencies"]
        return {
            "total": float(result["total"]),
            "p50": float(percentile(lat, 50) or 0.0),
            "p99": float(percentile(lat, 99) or 0.0),
        }
    finally:
        await cleanup(settings)


async def run(cfg: BenchConfig) -> list[Figure]:
    goal = Goal("ours ≤ 60 s (issue)", max_ours=60)
    gone = [f"{s}: {c}" for s, calls in REQUIRED.items() for c in contract.missing(s, *calls)]
    if "needs_approved" not in contract.response_fields("metrics", "GET /v1/stats"):
        gone.append("metrics: needs_approved in GET /v1/stats")
    if gone:
        return [unavailable("e2e", NAMES["inbox"], "s", "missing " + "; ".join(gone), goal)]
    settings = bench_settings(notify_daily_need_messages_per_volunteer=1_000_000)
    await ensure_topics(settings)
    log_dir = cfg.log_dir / "e2e"
    procs = {s: service_process(s, settings, log_dir) for s in SERVICES}
    p = Platform(settings, procs)
    inbox = Figure("e2e", NAMES["inbox"], "s", goal=goal)
    stats = Figure("e2e", NAMES["stats"], "s")
    p50 = Figure("e2e", NAMES["p50"], "s")
    p99 = Figure("e2e", NAMES["p99"], "s")
    notes: list[str] = []
    try:
        await asyncio.gather(*(proc.wait_ready() for proc in procs.values()))
        notes.append(await _setup(p, cfg))
        # Warm-up: one need per community until its watcher hears of it (rosters are built).
        warm = await _burst(p, len(p.campaign.communities), 60)
        if warm.missing:
            return [
                unavailable(
                    "e2e",
                    NAMES["inbox"],
                    "s",
                    f"{warm.missing} of {len(p.campaign.communities)} approved needs never "
                    "reached a matching volunteer's inbox",
                    goal,
                )
            ]
        for i in range(cfg.rounds):
            # Alternate which goes first, so that a drifting machine favours neither.
            raw = await _raw_round_trip(cfg, cfg.burst) if i % 2 == 0 else None
            ours = await _burst(p, cfg.burst, BURST_TIMEOUT_S)
            raw = raw or await _raw_round_trip(cfg, cfg.burst)
            for proc in procs.values():
                proc.sample_peak()
            inbox.baseline_runs.append(raw["total"])
            stats.baseline_runs.append(raw["total"])
            p50.baseline_runs.append(raw["p50"])
            p99.baseline_runs.append(raw["p99"])
            if ours.inbox_s is not None:
                inbox.ours_runs.append(ours.inbox_s)
            else:
                inbox.status = "partial"
                notes.append(f"{ours.missing} approved needs never reached an inbox")
            if ours.failed:
                inbox.status = "partial"
                notes.append(f"{len(ours.failed)} approvals failed: {ours.failed[0][:160]}")
            if inbox.status == "partial" and i >= 1 and not inbox.ours_runs:
                notes.append(f"stopped after {i + 1} bursts that never completed")
                break
            if ours.stats_s is not None:
                stats.ours_runs.append(ours.stats_s)
            else:
                stats.status = "partial"
            if ours.latencies:
                p50.ours_runs.append(percentile(ours.latencies, 50) or 0.0)
                p99.ours_runs.append(percentile(ours.latencies, 99) or 0.0)
        notes.append(
            f"{cfg.burst} needs over {len(p.campaign.communities)} communities approved at "
            f"once (32 in flight), polled every {POLL_S} s; per-need: approve sent → in inbox"
        )
    except Exception as exc:
        inbox.status = "failed"
        notes.append(f"{type(exc).__name__}: {exc}"[:300])
    finally:
        for name, proc in procs.items():
            cfg.memory.record("e2e", name, True, await proc.close())
        await cleanup(settings)
    inbox.note = "; ".join(notes)
    return [inbox, stats, p50, p99]
