"""The faults suite's clients: the issue's whole mix through the services' real HTTP APIs.

Long because every kind of client write (needs, claims, confirmations, redemptions, imports,
appointments, poison records) must be recorded in one History for the checker.

Each client is a community's resident, its admin and a pool of its volunteers. It tells
stories, one after another: a need posted (with an Idempotency-Key) and approved, several
volunteers racing to claim its one slot, the winner completing it, the resident confirming
(the hours verified: a passbook credit, webhooks and inbox items follow); now and then
a points redemption at the counter, a volunteer import (CSV), an appointment at identity, a
poison record on a topic. What the clients were told is the History: every 2xx is an
acknowledged write, with its id. A request whose outcome is unknown (no answer, a 5xx) is
asked again when the API makes that safe (idempotent by key or by nature), and otherwise
recorded as indeterminate: the checker allows it either way, never twice.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer

from shared.settings import Settings
from tests.helpers import auth

DISTRICT = "faultdistrict"
STREET = f"{DISTRICT}.street"
COMMUNITIES = [f"{STREET}.c{i}" for i in range(3)]
HOURS = 0.1  # a story's declared hours: 1 point each, far inside 12 h a day per volunteer
HOOKED = ["org.tongxin.project.claimed", "org.tongxin.task.confirmed"]


def admin_of(community: str) -> str:
    return f"admin-{community.rsplit('.', 1)[-1]}"


@dataclass
class Story:
    community: str
    requester: str
    approved: bool = False
    claims: dict[str, str] = field(default_factory=dict)  # volunteer → claim id (201s)
    claimers: list[str] = field(default_factory=list)  # who raced
    completed_by: str | None = None  # the volunteer whose completion was answered 200
    confirmed: bool = False


@dataclass
class History:
    """What the clients were told, and what the nemesis did."""

    stories: dict[str, Story] = field(default_factory=dict)  # need id → story (201 answered)
    volunteers: dict[str, str] = field(default_factory=dict)  # id → community (import rows)
    redemptions: dict[str, str] = field(default_factory=dict)  # redemption id → volunteer
    redemptions_unsure: Counter[str] = field(default_factory=Counter)  # volunteer → attempts
    appointments: dict[str, str] = field(default_factory=dict)  # appointment id → scope
    subscriptions: dict[str, str] = field(default_factory=dict)  # subscription id → admin
    poison: set[str] = field(default_factory=set)  # markers of poison records produced
    requests: Counter[str] = field(default_factory=Counter)  # answered, by kind
    retried: int = 0
    faults: Counter[str] = field(default_factory=Counter)  # "kind target" → count
    recoveries: dict[str, float] = field(default_factory=dict)  # "kind target" → longest s
    log: list[str] = field(default_factory=list)

    def note(self, line: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {line}")
        print(self.log[-1], flush=True)  # shown live with -s (make faults)

    @property
    def acknowledged(self) -> int:
        s = self.stories.values()
        return (
            len(self.stories)
            + sum(x.approved for x in s)
            + sum(len(x.claims) for x in s)
            + sum(x.completed_by is not None for x in s)
            + sum(x.confirmed for x in s)
            + len(self.volunteers)
            + len(self.redemptions)
            + len(self.appointments)
            + len(self.subscriptions)
        )


Url = Callable[[], str]  # a service's base URL now (a restarted one listens elsewhere)


class Asker:
    """One client's HTTP: `safe` requests are asked again until answered (below 500)."""

    def __init__(self, client: httpx.AsyncClient, history: History, patience_s: float) -> None:
        self.client = client
        self.history = history
        self.patience_s = patience_s

    async def safe(self, base: Url, method: str, path: str, **kw: Any) -> httpx.Response | None:
        deadline = time.monotonic() + self.patience_s
        while time.monotonic() < deadline:
            try:
                resp = await self.client.request(method, base() + path, timeout=15, **kw)
            except httpx.HTTPError:
                resp = None
            if resp is not None and resp.status_code < 500:
                return resp
            self.history.retried += 1
            await asyncio.sleep(0.3)
        return None

    async def once(self, base: Url, method: str, path: str, **kw: Any) -> httpx.Response | None:
        """Asked once: None when its outcome is unknown (no answer, or a 5xx)."""
        try:
            resp = await self.client.request(method, base() + path, timeout=30, **kw)
        except httpx.HTTPError:
            return None
        return None if resp.status_code >= 500 else resp


def csv_of(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["姓名,手机号,所在社区,技能"] + [f"{n},{p},{c},养老照护" for n, p, c in rows]
    return ("\n".join(lines) + "\n").encode()


class Client:
    """One community's people, telling stories until `stopped`."""

    def __init__(
        self,
        no: int,
        settings: Settings,
        urls: dict[str, Url],
        history: History,
        rng: random.Random,
        poison: Callable[[str], Any],
    ) -> None:
        self.no = no
        self.s = settings
        self.urls = urls
        self.history = history
        self.rng = rng
        self.poison = poison
        self.community = COMMUNITIES[no % len(COMMUNITIES)]
        self.resident = f"res-{no}"
        self.admin = admin_of(self.community)
        self.pool: list[str] = []  # volunteers the needs service has had time to learn
        self.credited: Counter[str] = Counter()  # points this client expects per volunteer
        self._phones = 0

    def headers(self, role: str, sub: str, scope: str | None = None) -> dict[str, str]:
        return auth(self.s, role, scope or self.community, sub)

    async def import_volunteers(self, ask: Asker, n: int) -> list[str]:
        rows = []
        for _ in range(n):
            self._phones += 1
            phone = f"139{self.no:02d}{self._phones:06d}"
            rows.append((f"志愿者{self.no}-{self._phones}", phone, self.community))
        resp = await ask.safe(
            self.urls["volunteers"],
            "POST",
            "/v1/volunteers:import",
            files={"file": ("名单.csv", csv_of(rows), "text/csv")},
            headers=self.headers("community_admin", self.admin),
        )
        if resp is None or resp.status_code != 200:
            return []
        self.history.requests["import"] += 1
        made = [
            r["volunteer_id"]
            for r in resp.json()["rows"]
            if r["status"] in ("created", "duplicate") and r["volunteer_id"]
        ]
        for v in made:
            self.history.volunteers[v] = self.community
        return made

    async def first_volunteers(self, n: int) -> None:
        async with httpx.AsyncClient() as http:
            self.pool += await self.import_volunteers(Asker(http, self.history, 120), n)

    async def run(self, stopped: asyncio.Event) -> None:
        async with httpx.AsyncClient() as http:
            ask = Asker(http, self.history, patience_s=180)
            n = 0
            while not stopped.is_set():
                n += 1
                await self.story(ask)
                if n % 5 == 0:
                    await self.redeem(ask)
                if n % 25 == 0:
                    fresh = await self.import_volunteers(ask, 2)
                    # joins the races once the needs service has surely heard of them
                    asyncio.get_running_loop().call_later(15, self.pool.extend, fresh)
                if n % 10 == 2:
                    await self.appoint(ask)
                if n % 10 == 3:
                    await self.poison(f"poison-{self.no}-{n}")

    async def import_rosters(self, stopped: asyncio.Event, rows: int) -> None:
        """The community office importing its roster in chunks of `rows` while the residents
        post (these volunteers do not race for claims)."""
        async with httpx.AsyncClient() as http:
            ask = Asker(http, self.history, patience_s=180)
            while not stopped.is_set():
                await self.import_volunteers(ask, rows)

    async def story(self, ask: Asker) -> None:
        needs = self.urls["needs"]
        resident = self.headers("resident", self.resident)
        admin = self.headers("community_admin", self.admin)
        body = {
            "community_id": self.community,
            "title": f"故障测试需求 {self.no}-{uuid.uuid4().hex[:6]}",
            "category": "elderly_care",
            "slots": 1,
            "beneficiaries": 1,
            "requester": {"name": "王阿姨", "phone": "13812345678"},
        }
        key = {"Idempotency-Key": uuid.uuid4().hex}
        resp = await ask.safe(needs, "POST", "/v1/needs", json=body, headers={**resident, **key})
        if resp is None or resp.status_code != 201:
            return
        need_id = resp.json()["id"]
        story = self.history.stories[need_id] = Story(self.community, self.resident)
        resp = await ask.safe(needs, "POST", f"/v1/needs/{need_id}/approve", headers=admin)
        if resp is None:
            return
        story.approved = resp.status_code == 200
        if len(self.pool) < 3:
            return
        # several volunteers race for the one slot
        story.claimers = self.rng.sample(self.pool, 3)
        answers = await asyncio.gather(
            *(
                ask.safe(
                    needs,
                    "POST",
                    f"/v1/needs/{need_id}/claims",
                    json={"volunteer_id": v},
                    headers=self.headers("volunteer", v),
                )
                for v in story.claimers
            )
        )
        for v, r in zip(story.claimers, answers, strict=True):
            if r is not None and r.status_code == 201:
                story.claims[v] = r.json()["id"]
        # the need itself says who won (an answer lost to a fault may hide the winner)
        resp = await ask.safe(needs, "GET", f"/v1/needs/{need_id}", headers=resident)
        if resp is None or resp.status_code != 200:
            return
        active = [c for c in resp.json()["claims"] if c["status"] == "active"]
        if len(active) != 1:
            return
        (winner,) = active[0]["volunteer_ids"]
        done = {"hours": [{"volunteer_id": winner, "hours": HOURS}]}
        resp = await ask.safe(
            needs,
            "POST",
            f"/v1/needs/{need_id}/completion",
            json=done,
            headers=self.headers("volunteer", winner),
        )
        if resp is not None and resp.status_code == 200:
            story.completed_by = winner
        resp = await ask.safe(
            needs,
            "POST",
            f"/v1/needs/{need_id}/confirmation",
            json={"rating": 5},
            headers=resident,
        )
        if resp is not None and resp.status_code == 200:
            story.confirmed = True
            if resp.json()["completion"]["hours_status"] == "verified":
                self.credited[winner] += 1
        self.history.requests["story"] += 1

    async def redeem(self, ask: Asker) -> None:
        """Points spent at the counter: not idempotent, so asked once."""
        rich = [v for v, n in self.credited.items() if n >= 3]
        if not rich:
            return
        v = self.rng.choice(rich)
        self.credited[v] -= 1
        resp = await ask.once(
            self.urls["volunteers"],
            "POST",
            f"/v1/volunteers/{v}/redemptions",
            json={"item": "大米 1 袋", "points": 1},
            headers=self.headers("community_admin", self.admin),
        )
        if resp is None:
            self.history.redemptions_unsure[v] += 1
        elif resp.status_code == 201:
            self.history.redemptions[resp.json()["redemption_id"]] = v

    async def appoint(self, ask: Asker) -> None:
        self._phones += 1
        body = {
            "phone": f"137{self.no:02d}{self._phones:06d}",
            "name": f"网格员{self.no}-{self._phones}",
            "role": "grid_worker",
            "scope": self.community,
        }
        resp = await ask.safe(
            self.urls["identity"],
            "POST",
            "/v1/appointments",
            json=body,
            headers=self.headers("district_admin", "district-admin", DISTRICT),
        )
        if resp is not None and resp.status_code in (200, 201):
            self.history.appointments[resp.json()["id"]] = self.community


async def subscribe_webhooks(
    settings: Settings, urls: dict[str, Url], history: History, hook_url: str
) -> dict[str, str]:
    """Each community's admin hears claims and confirmations on a webhook; returns the
    signing secrets by path."""
    secrets: dict[str, str] = {}
    async with httpx.AsyncClient() as http:
        ask = Asker(http, history, patience_s=60)
        for community in COMMUNITIES:
            path = f"/hook/{community}"
            resp = await ask.safe(
                urls["notify"],
                "POST",
                "/v1/subscriptions",
                json={
                    "recipient_id": admin_of(community),
                    "channel": "webhook",
                    "target": hook_url + path,
                    "event_types": HOOKED,
                    "scope": community,
                },
                headers=auth(settings, "community_admin", community, admin_of(community)),
            )
            assert resp is not None and resp.status_code == 201, resp and resp.text
            history.subscriptions[resp.json()["id"]] = admin_of(community)
            secrets[path] = resp.json()["secret"]
    return secrets


async def seed_org_tree(settings: Settings, urls: dict[str, Url], history: History) -> None:
    service = auth(settings, "service", DISTRICT, "provisioning")
    async with httpx.AsyncClient() as http:
        ask = Asker(http, history, patience_s=60)
        for path in (DISTRICT, STREET, *COMMUNITIES):
            resp = await ask.safe(
                urls["volunteers"],
                "PUT",
                f"/v1/orgs/{path}",
                json={"name": path.rsplit(".", 1)[-1]},
                headers=service,
            )
            assert resp is not None and resp.status_code in (200, 201), resp and resp.text


class Poisoner:
    """Produces records no consumer can read (not CloudEvents) onto the streams; each must
    end in its topic's `.dlq`, once per consumer group that reads the topic."""

    def __init__(self, settings: Settings, history: History, rng: random.Random) -> None:
        self.s = settings
        self.history = history
        self.rng = rng

    async def __call__(self, marker: str) -> None:
        topics = self.s.topics
        topic = self.rng.choice([topics.needs, topics.volunteers, topics.notify])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.s.kafka_bootstrap, enable_idempotence=True
            )
            try:
                await asyncio.wait_for(producer.start(), 10)
                await asyncio.wait_for(
                    producer.send_and_wait(topic, f'{{"poison": "{marker}"}}'.encode()), 15
                )
                self.history.poison.add(marker)
                return
            except Exception:  # the broker is down or frozen: try again
                await asyncio.sleep(1)
            finally:
                try:
                    await asyncio.wait_for(producer.stop(), 10)
                except Exception:
                    pass
