"""Putting data in place before a benchmark: through the contract's APIs where they exist,
and, to reach 100,000 stored records in minutes, by cloning what the services wrote.

Cloning knows nothing of a service's collections: after a warm-up has made the service
write one of everything, its collections of records are filled up with copies whose ids
(UUIDs), community paths and phone numbers are rewritten, so that every clone is a
different record in a different community of a separate district: the stored volume
grows, the work of each live event does not. Collections keyed by the ids of needs and
volunteers the harness knows grow to the size under test; the others to the smaller size.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from pymongo.errors import BulkWriteError

from bench.events import DISTRICT, Campaign
from shared.auth import mint_token
from shared.settings import Settings

SEED_DISTRICT = "benchseed"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_PATH = re.compile(rf"\b{DISTRICT}(?:\.[A-Za-z0-9_]+)*")
_PHONE = re.compile(r"\b1[3-9][0-9]{9}\b")
_NS = uuid.UUID("6f1c0a52-5d1b-4c7e-9a5e-0b3c7d1e2f40")


def _clone_path(match: str, i: int) -> str:
    parts = match.split(".")
    seeded = [SEED_DISTRICT, f"s{(i // 100) % 10}", f"c{i % 100}"]
    return ".".join(seeded[: len(parts)] + parts[3:])


def rewrite(value: Any, i: int) -> Any:
    """Clone number `i` of a stored value: the same shape, other ids, another community."""
    if isinstance(value, str):
        value = _UUID.sub(lambda m: str(uuid.uuid5(_NS, f"{m.group(0)}/{i}")), value)
        value = _PATH.sub(lambda m: _clone_path(m.group(0), i), value)
        return _PHONE.sub(lambda m: f"1{3 + i % 7}{(i * 7919) % 10**9:09d}", value)
    if isinstance(value, dict):
        return {k: rewrite(v, i) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite(v, i) for v in value]
    return value


def is_record(doc: dict[str, Any]) -> bool:
    """Whether a stored document is a record of something (its id names a need, a volunteer,
    an event, a community...) rather than a singleton of the service's own (a pointer, a lock,
    a setting), which a clone must not multiply."""
    ident = doc.get("_id")
    return isinstance(ident, str) and bool(_UUID.search(ident) or _PATH.search(ident))


def clone(doc: dict[str, Any], i: int) -> dict[str, Any]:
    copy: dict[str, Any] = rewrite(doc, i)
    return copy


@dataclass(frozen=True)
class Grown:
    collections: dict[str, int]
    seconds: float

    def describe(self) -> str:
        parts = ", ".join(f"{name} {count:,}" for name, count in sorted(self.collections.items()))
        return f"{parts} ({self.seconds:.0f} s)"


async def _grow_collection(col: Any, target: int) -> int:
    samples = [d for d in await col.find({}).limit(500).to_list() if is_record(d)]
    have = int(await col.count_documents({}))
    i = 0
    while samples and have < target:
        chunk = [clone(samples[(i + k) % len(samples)], i + k) for k in range(1000)]
        chunk = chunk[: target - have]
        i += len(chunk)
        try:
            result = await col.insert_many(chunk, ordered=False)
            have += len(result.inserted_ids)
        except BulkWriteError as exc:  # ids keyed by community: there are 1,000 of them
            inserted = int(exc.details.get("nInserted", 0))
            have += inserted
            if inserted == 0:
                break
    return have


def holds_needs_or_volunteers(name: str, ids: list[Any], known: set[str]) -> bool:
    """A collection of needs or volunteers: its records are keyed by their ids. Commit logs
    and the processed-event ledger are read by `_id` alone, and stay at the smaller size."""
    if name.endswith("_commits") or name == "processed_events":
        return False
    return any(u in known for i in ids if isinstance(i, str) for u in _UUID.findall(i))


async def grow_database(
    settings: Settings, database: str, small: int, large: int, known_ids: set[str]
) -> Grown:
    """Fills the collections of `database` that hold needs or volunteers (records whose id
    contains one of `known_ids`) up to `large` documents, every other record collection up
    to `small`, so that two runs differ only in the needs and volunteers stored."""
    started = time.perf_counter()
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, socketTimeoutMS=300_000
    )
    try:
        db = client[database]
        names = [
            n
            for n in sorted(await db.list_collection_names())
            # Pending outbox markers would make the relay publish the clones.
            if n != "outbox" and not n.startswith("system.")
        ]
        gate = asyncio.Semaphore(2)  # clones are built while the database writes others

        async def grow(name: str) -> int:
            async with gate:
                col = db[name]
                ids = [d["_id"] async for d in col.find({}, {"_id": 1}).limit(200)]
                target = large if holds_needs_or_volunteers(name, ids, known_ids) else small
                return await _grow_collection(col, target)

        counts = dict(zip(names, await asyncio.gather(*(grow(n) for n in names)), strict=True))
    finally:
        await client.close()
    return Grown(counts, time.perf_counter() - started)


def admin_headers(settings: Settings, scope: str = DISTRICT) -> dict[str, str]:
    token = mint_token(settings, "district_admin", scope, "bench-admin")
    return {"Authorization": f"Bearer {token}"}


async def put_org_tree(client: httpx.AsyncClient, settings: Settings, campaign: Campaign) -> str:
    """The district, its streets and communities through `PUT /v1/orgs/{path}`."""
    headers = admin_headers(settings)
    problems = []
    for unit in campaign.org_units():
        path = unit.subject()
        body = {"name": getattr(unit, "name", path)}
        resp = await client.put(f"/v1/orgs/{path}", json=body, headers=headers)
        if resp.status_code == 422:
            body["level"] = getattr(unit, "level", "community")
            resp = await client.put(f"/v1/orgs/{path}", json=body, headers=headers)
        if resp.status_code >= 300:
            problems.append(f"PUT /v1/orgs/{path}: {resp.status_code}")
    return "; ".join(problems[:3])


async def register_volunteers(
    client: httpx.AsyncClient,
    settings: Settings,
    campaign: Campaign,
    per_community: int,
    skills: list[str] | None = None,
) -> list[tuple[str, str]]:
    """Reports volunteers in through `POST /v1/volunteers`; their ids join the pool."""
    headers = admin_headers(settings)
    pool: list[tuple[str, str]] = []
    for community in campaign.communities:
        for n in range(per_community):
            template = campaign.register(community=community)
            where = template.location.model_dump() if template.location and not skills else None
            resp = await client.post(
                "/v1/volunteers",
                json={
                    "name": template.name,
                    "phone": f"139{abs(hash((community, n))) % 10**8:08d}",
                    "home_community_id": community,
                    "party_org": "机关党支部",
                    "skills": skills or template.skills,
                    "pledge_signed": True,
                    # Without a location a volunteer hears of every matching need around.
                    "location": where,
                },
                headers=headers,
            )
            if resp.status_code >= 300:
                raise RuntimeError(f"POST /v1/volunteers: {resp.status_code} {resp.text[:300]}")
            body = resp.json()
            pool.append((str(body.get("id") or body.get("volunteer_id")), community))
    campaign.pool.extend(pool)
    campaign.known_ids.update(vid for vid, _ in pool)
    return pool
