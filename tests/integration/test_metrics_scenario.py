"""A generated district driven through the metrics consumer: every figure at every level
equals the figure this test counts itself from what it sent, whatever the delivery order,
however often each event arrives, and again after a rebuild from the event log.

Long because the scenario generator, its independent tally and the comparison at every level
belong to one test of exactness.

The expected figures below are counted plainly from the generator's own records (not from
the events, and without the service's code), following the definitions of GET /v1/stats.
"""

from __future__ import annotations

import asyncio
import random
import subprocess
import sys
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from services.metrics.app import create_app
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import (
    NeedApproved,
    NeedCancelled,
    NeedPosted,
    NeedRejected,
    ProjectClaimed,
    ProjectClaimReleased,
    TaskCompleted,
    TaskConfirmed,
    VolunteerHours,
)
from shared.events.notify import NotificationDelivered, NotificationFailed
from shared.events.volunteers import (
    OrganizationRegistered,
    OrgLevel,
    OrgUnitUpdated,
    TeamFormed,
    VolunteerRegistered,
)
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.settings import Settings
from tests.helpers import auth, eventually, running, settings_env

TZ = ZoneInfo("Asia/Shanghai")
DISTRICT = "zhongshan"
STREETS = ["hongyan", "qingxi", "baiyun"]
COMMUNITIES = ["dongfeng", "xinhua", "yucai", "heping"]
CATEGORIES = ["elderly_care", "childcare", "medical", "legal_aid", "hardship_relief", "other"]
DAY0 = datetime(2026, 10, 1, tzinfo=TZ)
SUB_WINDOW = (date(2026, 10, 5), date(2026, 10, 12))

# --- the generator: plain records of what happened, and the events that tell it ----------


@dataclass
class Claim:
    claim_id: str
    claimant_type: str
    at: datetime
    volunteer_ids: list[str]
    slots: int
    filled: bool = False
    released_at: datetime | None = None


@dataclass
class Need:
    need_id: str
    community: str
    category: str
    posted_at: datetime
    slots: int
    due_at: datetime | None = None
    approved_at: datetime | None = None
    rejected_at: datetime | None = None
    cancelled_at: datetime | None = None
    claims: list[Claim] = field(default_factory=list)
    completed_at: datetime | None = None
    hours: list[tuple[str, float]] = field(default_factory=list)
    beneficiaries_served: int = 0
    goods_count: int = 0
    funds_cents: int = 0
    confirmed_at: datetime | None = None
    rating: int | None = None
    notices: list[tuple[datetime, bool]] = field(default_factory=list)  # (at, delivered)


@dataclass
class Volunteer:
    volunteer_id: str
    community: str
    registered_at: datetime
    party_member: bool = False


@dataclass
class District:
    needs: list[Need] = field(default_factory=list)
    volunteers: list[Volunteer] = field(default_factory=list)
    teams: list[tuple[str, datetime]] = field(default_factory=list)  # (community, formed_at)
    organizations: list[tuple[str, datetime]] = field(default_factory=list)
    # (topic stream, event) in the order the real services would publish them
    events: list[tuple[str, CloudEvent]] = field(default_factory=list)

    @property
    def communities(self) -> list[str]:
        return [f"{DISTRICT}.{s}.{c}" for s in STREETS for c in COMMUNITIES]


def _at(rng: random.Random, start: datetime, min_h: float, max_h: float) -> datetime:
    return start + timedelta(seconds=rng.randint(int(min_h * 3600), int(max_h * 3600)))


def generate_district(
    seed: int = 7, needs_per_community: int = 22, day0: datetime = DAY0
) -> District:
    rng = random.Random(seed)
    d = District()
    stamped: list[tuple[datetime, str, EventPayload]] = []

    def emit(at: datetime, stream: str, payload: EventPayload) -> None:
        stamped.append((at, stream, payload))

    emit(day0, "volunteers", _unit(DISTRICT, "中山区", "district", None, day0))
    for street in STREETS:
        path = f"{DISTRICT}.{street}"
        emit(day0, "volunteers", _unit(path, f"{street}街道", "street", DISTRICT, day0))
        for community in COMMUNITIES:
            emit(
                day0,
                "volunteers",
                _unit(f"{path}.{community}", f"{community}社区", "community", path, day0),
            )
    by_community: dict[str, list[Volunteer]] = defaultdict(list)
    teams: dict[str, list[tuple[str, list[str], datetime]]] = defaultdict(list)
    orgs: dict[str, list[tuple[str, datetime]]] = defaultdict(list)
    for community in d.communities:
        for _ in range(20):
            vol = Volunteer(f"v-{uuid.uuid4().hex[:10]}", community, _at(rng, day0, 1, 18 * 24))
            vol.party_member = len(d.volunteers) % 3 == 0  # every third one is a party member
            d.volunteers.append(vol)
            by_community[community].append(vol)
            emit(
                vol.registered_at,
                "volunteers",
                VolunteerRegistered(
                    volunteer_id=vol.volunteer_id,
                    name="志愿者",
                    home_community_id=community,
                    party_org=f"{community}党支部" if vol.party_member else None,
                    registered_at=vol.registered_at,
                ),
            )
        for _ in range(2):
            members = rng.sample(by_community[community], 3)
            formed = max(m.registered_at for m in members) + timedelta(hours=1)
            team_id = f"team-{uuid.uuid4().hex[:8]}"
            ids = [m.volunteer_id for m in members]
            teams[community].append((team_id, ids, formed))
            d.teams.append((community, formed))
            emit(
                formed,
                "volunteers",
                TeamFormed(
                    team_id=team_id,
                    community_id=community,
                    name="服务队",
                    service_type="elderly_care",
                    leader_id=ids[0],
                    member_ids=ids,
                    formed_at=formed,
                ),
            )
        org_at = _at(rng, day0, 1, 48)
        org_id = f"org-{uuid.uuid4().hex[:8]}"
        orgs[community].append((org_id, org_at))
        d.organizations.append((community, org_at))
        emit(
            org_at,
            "volunteers",
            OrganizationRegistered(
                organization_id=org_id,
                name="爱心企业",
                kind="enterprise",
                community_id=community,
                registered_at=org_at,
            ),
        )
        for _ in range(needs_per_community):
            need = _lifecycle(rng, day0, community, by_community[community], teams[community])
            d.needs.append(need)
            for at, stream, payload in _need_events(need):
                emit(at, stream, payload)
    stamped.sort(key=lambda e: e[0])
    d.events = [
        (stream, CloudEvent.wrap(p, event_id=str(uuid.uuid4()), time=at))
        for at, stream, p in stamped
    ]
    return d


def _unit(
    path: str, name: str, level: OrgLevel, parent: str | None, at: datetime
) -> OrgUnitUpdated:
    return OrgUnitUpdated(
        path=path, name=name, level=level, parent=parent, updated_by="admin", updated_at=at
    )


def _lifecycle(
    rng: random.Random,
    day0: datetime,
    community: str,
    volunteers: list[Volunteer],
    teams: list[tuple[str, list[str], datetime]],
) -> Need:
    posted = _at(rng, day0, 0, 17 * 24)
    need = Need(
        need_id=f"n-{uuid.uuid4().hex[:12]}",
        community=community,
        category=rng.choice(CATEGORIES),
        posted_at=posted,
        slots=rng.choice([1, 1, 1, 2, 3]),
    )
    fate = rng.random()
    if fate < 0.1:
        need.rejected_at = _at(rng, posted, 1, 30)
        return need
    if fate < 0.15:
        need.cancelled_at = _at(rng, posted, 1, 30)
        return need
    need.approved_at = _at(rng, posted, 0.5, 36)
    if rng.random() < 0.7:
        need.due_at = _at(rng, need.approved_at, 24, 10 * 24)
    t = _at(rng, need.approved_at, 0.2, 72)
    if rng.random() < 0.08:
        need.cancelled_at = t
        return need
    taken = 0
    busy: set[str] = set()
    active: list[Claim] = []
    stop_early = rng.random() < 0.12
    for _ in range(12):
        if taken == need.slots:
            break
        left = need.slots - taken
        kind = rng.random()
        if kind < 0.7:
            free = [v for v in volunteers if v.volunteer_id not in busy]
            vol = rng.choice(free)
            claim = Claim(f"c-{uuid.uuid4().hex[:8]}", "volunteer", t, [vol.volunteer_id], 1)
        elif kind < 0.85 and left >= 2:
            _, members, _ = rng.choice(teams)
            chosen = [m for m in members if m not in busy][: min(left, 3)]
            if not chosen:
                continue
            claim = Claim(f"c-{uuid.uuid4().hex[:8]}", "team", t, chosen, len(chosen))
        else:
            claim = Claim(f"c-{uuid.uuid4().hex[:8]}", "organization", t, [], left)
        taken += claim.slots
        claim.filled = taken == need.slots
        busy.update(claim.volunteer_ids)
        active.append(claim)
        need.claims.append(claim)
        need.notices.append((t + timedelta(minutes=1), rng.random() < 0.9))
        t = _at(rng, t, 0.1, 30)
        if rng.random() < 0.2:
            gone = rng.choice(active)
            gone.released_at = t
            active.remove(gone)
            taken -= gone.slots
            busy.difference_update(gone.volunteer_ids)
            t = _at(rng, t, 0.1, 20)
        if stop_early and taken < need.slots:
            break
    if taken < need.slots or rng.random() < 0.25:
        return need
    need.completed_at = _at(rng, t, 1, 9 * 24)
    need.hours = [
        (v, rng.choice([0.5, 1.0, 1.5, 2.0, 3.0, 4.0])) for c in active for v in c.volunteer_ids
    ]
    need.beneficiaries_served = rng.randint(1, 6)
    need.goods_count = rng.randint(0, 10)
    need.funds_cents = rng.randint(0, 50_000)
    if rng.random() < 0.7:
        need.confirmed_at = _at(rng, need.completed_at, 1, 72)
        need.rating = rng.randint(1, 5)
    return need


def _need_events(n: Need) -> list[tuple[datetime, str, EventPayload]]:
    base = {"need_id": n.need_id, "community_id": n.community, "category": n.category}
    base["kind"] = "wish"
    who = {"requester_id": "resident-1"}
    out: list[tuple[datetime, str, EventPayload]] = [
        (
            n.posted_at,
            "needs",
            NeedPosted(
                **base,
                **who,
                title="需要帮助",
                slots=n.slots,
                beneficiaries=1,
                due_at=n.due_at,
                posted_by="resident-1",
                status="pending_review",
                posted_at=n.posted_at,
            ),
        )
    ]
    if n.approved_at:
        out.append(
            (
                n.approved_at,
                "needs",
                NeedApproved(
                    **base,
                    **who,
                    title="需要帮助",
                    slots=n.slots,
                    due_at=n.due_at,
                    approved_by="admin",
                    posted_at=n.posted_at,
                    approved_at=n.approved_at,
                ),
            )
        )
    if n.rejected_at:
        out.append(
            (
                n.rejected_at,
                "needs",
                NeedRejected(
                    **base, **who, reason="不符合", rejected_by="admin", rejected_at=n.rejected_at
                ),
            )
        )
    if n.cancelled_at:
        out.append(
            (
                n.cancelled_at,
                "needs",
                NeedCancelled(
                    **base,
                    **who,
                    previous_status="open" if n.approved_at else "pending_review",
                    cancelled_by="resident-1",
                    cancelled_at=n.cancelled_at,
                ),
            )
        )
    taken = 0
    timeline: list[tuple[datetime, int, Claim]] = [(c.at, 0, c) for c in n.claims] + [
        (c.released_at, 1, c) for c in n.claims if c.released_at
    ]
    for at, release, c in sorted(timeline, key=lambda x: (x[0], x[1])):
        claim = {
            "claim_id": c.claim_id,
            "claimant_type": c.claimant_type,
            "volunteer_ids": c.volunteer_ids,
            "slots": c.slots,
            "slots_total": n.slots,
        }
        if c.claimant_type == "team":
            claim["team_id"] = "team"
        if c.claimant_type == "organization":
            claim["organization_id"] = "org"
        if not release:
            taken += c.slots
            status = "claimed" if c.filled else "open"
            out.append(
                (
                    at,
                    "needs",
                    ProjectClaimed(
                        **base,
                        **who,
                        **claim,
                        slots_taken=taken,
                        need_status=status,
                        claimed_by="someone",
                        posted_at=n.posted_at,
                        claimed_at=at,
                    ),
                )
            )
        else:
            taken -= c.slots
            out.append(
                (
                    at,
                    "needs",
                    ProjectClaimReleased(
                        **base,
                        **who,
                        **claim,
                        slots_taken=taken,
                        need_status="open",
                        reason="released",
                        released_by="someone",
                        released_at=at,
                    ),
                )
            )
    for i, (at, delivered) in enumerate(n.notices):
        note = {
            "notification_id": f"{n.need_id}-note-{i}",
            "source_event_id": "x",
            "source_event_type": "org.tongxin.project.claimed",
            "recipient_id": "resident-1",
            "channel": "inapp",
            "community_id": n.community,
            "need_id": n.need_id,
        }
        if delivered:
            out.append((at, "notify", NotificationDelivered(**note, delivered_at=at)))
        else:
            out.append(
                (at, "notify", NotificationFailed(**note, attempts=3, error="x", failed_at=at))
            )
    if n.completed_at:
        out.append(
            (
                n.completed_at,
                "needs",
                TaskCompleted(
                    **base,
                    **who,
                    completion_id=f"{n.need_id}-done",
                    claim_ids=[c.claim_id for c in n.claims if c.released_at is None],
                    hours=[VolunteerHours(volunteer_id=v, hours=h) for v, h in n.hours],
                    beneficiaries_served=n.beneficiaries_served,
                    goods_count=n.goods_count,
                    funds_cents=n.funds_cents,
                    completed_by="someone",
                    posted_at=n.posted_at,
                    due_at=n.due_at,
                    completed_at=n.completed_at,
                ),
            )
        )
    if n.confirmed_at:
        assert n.rating is not None
        out.append(
            (
                n.confirmed_at,
                "needs",
                TaskConfirmed(
                    **base,
                    completion_id=f"{n.need_id}-done",
                    rating=n.rating,
                    confirmed_by="resident-1",
                    confirmed_at=n.confirmed_at,
                ),
            )
        )
    return out


# --- the expected figures, counted plainly ------------------------------------------------


def window(first: date | None, last: date | None) -> tuple[datetime | None, datetime | None]:
    start = datetime(first.year, first.month, first.day, tzinfo=TZ) if first else None
    end = None
    if last:
        after = last + timedelta(days=1)
        end = datetime(after.year, after.month, after.day, tzinfo=TZ)
    return start, end


def _median(values: list[float]) -> float | None:
    if not values:
        return None
    values = sorted(values)
    n = len(values)
    if n % 2 == 1:
        return values[n // 2]
    return (values[n // 2 - 1] + values[n // 2]) / 2


def _share(part: int, whole: int) -> float | None:
    if whole == 0:
        return None
    return part / whole


def expected(
    d: District, scope: str, start: datetime | None, end: datetime | None
) -> dict[str, Any]:
    def inside(t: datetime | None) -> bool:
        if t is None:
            return False
        return (start is None or t >= start) and (end is None or t < end)

    def under(path: str) -> bool:
        return path == scope or path.startswith(scope + ".")

    needs = [n for n in d.needs if under(n.community)]
    f = need_figures(needs, inside)
    f["volunteers_registered"] = sum(
        1 for v in d.volunteers if under(v.community) and inside(v.registered_at)
    )
    f["party_members_registered"] = sum(
        1 for v in d.volunteers if under(v.community) and inside(v.registered_at) and v.party_member
    )
    f["teams"] = sum(1 for c, at in d.teams if under(c) and inside(at))
    f["organizations"] = sum(1 for c, at in d.organizations if under(c) and inside(at))
    f["notifications_delivered"] = sum(
        1 for n in needs for at, ok in n.notices if ok and inside(at)
    )
    f["notifications_failed"] = sum(
        1 for n in needs for at, ok in n.notices if not ok and inside(at)
    )
    active: set[str] = set()
    for n in d.needs:  # active anywhere
        for c in n.claims:
            if inside(c.at):
                active.update(c.volunteer_ids)
        if inside(n.completed_at):
            active.update(v for v, _ in n.hours)
    known = [
        v for v in d.volunteers if under(v.community) and (end is None or v.registered_at < end)
    ]
    f["volunteers_active"] = sum(1 for v in known if v.volunteer_id in active)
    f["volunteer_participation"] = _share(f["volunteers_active"], len(known))
    return f


def need_figures(needs: list[Need], inside: Any) -> dict[str, Any]:
    f: dict[str, Any] = {}
    f["needs_posted"] = sum(1 for n in needs if inside(n.posted_at))
    f["needs_approved"] = sum(1 for n in needs if inside(n.approved_at))
    f["needs_rejected"] = sum(1 for n in needs if inside(n.rejected_at))
    f["needs_cancelled"] = sum(1 for n in needs if inside(n.cancelled_at))
    claims = [c for n in needs for c in n.claims if inside(c.at)]
    f["claims"] = len(claims)
    f["team_claims"] = sum(1 for c in claims if c.claimant_type == "team")
    f["organization_claims"] = sum(1 for c in claims if c.claimant_type == "organization")
    f["claims_released"] = sum(1 for n in needs for c in n.claims if inside(c.released_at))

    def filled_at(n: Need) -> datetime | None:
        times = [c.at for c in n.claims if c.filled]
        return min(times) if times else None

    claimed = [n for n in needs if inside(filled_at(n))]
    f["needs_claimed"] = len(claimed)
    completed = [n for n in needs if inside(n.completed_at)]
    f["tasks_completed"] = len(completed)
    confirmed = [n for n in needs if inside(n.confirmed_at)]
    f["tasks_confirmed"] = len(confirmed)
    approved = [n for n in needs if inside(n.approved_at)]
    f["claim_rate"] = _share(sum(1 for n in approved if filled_at(n)), len(approved))
    f["completion_rate"] = _share(sum(1 for n in claimed if n.completed_at), len(claimed))
    f["median_time_to_claim_s"] = _median(
        [(filled_at(n) - n.approved_at).total_seconds() for n in claimed]  # type: ignore[operator]
    )
    f["median_time_to_complete_s"] = _median(
        [(n.completed_at - filled_at(n)).total_seconds() for n in completed]  # type: ignore[operator]
    )
    f["beneficiaries_served"] = sum(n.beneficiaries_served for n in completed)
    f["volunteer_hours"] = sum(h for n in completed for _, h in n.hours)
    f["goods_count"] = sum(n.goods_count for n in completed)
    f["funds_cents"] = sum(n.funds_cents for n in completed)
    ratings = [n.rating for n in confirmed if n.rating is not None]
    f["average_rating"] = sum(ratings) / len(ratings) if ratings else None
    on_time = [n for n in completed if n.due_at is None or n.completed_at <= n.due_at]  # type: ignore[operator]
    f["on_time_rate"] = _share(len(on_time), len(completed))
    return f


def community_index(f: dict[str, Any]) -> float:
    def part(value: float | None) -> float:
        return 0.0 if value is None else value

    rating = f["average_rating"]
    return 100 * (
        0.25 * part(f["completion_rate"])
        + 0.25 * part(f["claim_rate"])
        + 0.20 * min(1.0, int(f["volunteers_active"]) / 20)  # 20 active volunteers: full marks
        + 0.15 * (0.0 if rating is None else (rating - 1) / 4)
        + 0.15 * part(f["on_time_rate"])
    )


def expected_unit(d: District, path: str, first: date | None, last: date | None) -> dict[str, Any]:
    start, end = window(first, last)
    f = expected(d, path, start, end)
    if path.count(".") >= 2:
        f["pioneer_index"] = community_index(f)
    else:
        below = [c for c in d.communities if c.startswith(path + ".")]
        indices = [community_index(expected(d, c, start, end)) for c in below]
        f["pioneer_index"] = sum(indices) / len(indices)
    return f


def expected_categories(
    d: District, scope: str, first: date | None, last: date | None
) -> dict[str, Any]:
    start, end = window(first, last)

    def inside(t: datetime | None) -> bool:
        return t is not None and (start is None or t >= start) and (end is None or t < end)

    out = {}
    for category in sorted({n.category for n in d.needs}):
        needs = [
            n
            for n in d.needs
            if n.category == category
            and (n.community == scope or n.community.startswith(scope + "."))
        ]
        figures = need_figures(needs, inside)
        if any(v for v in figures.values()):
            out[category] = figures
    return out


def assert_same(actual: dict[str, Any], wanted: dict[str, Any], where: str) -> None:
    for name, value in wanted.items():
        got = actual[name]
        if isinstance(value, float) or isinstance(got, float):
            assert got == pytest.approx(value, rel=1e-9, abs=1e-9), f"{where}: {name}"
        else:
            assert got == value, f"{where}: {name}"


# --- driving the service ------------------------------------------------------------------


async def publish(settings: Settings, events: list[tuple[str, CloudEvent]]) -> None:
    await ensure_topics(settings)
    producer = EventProducer(settings)
    await producer.start()
    try:
        by_stream: dict[str, list[CloudEvent]] = defaultdict(list)
        for stream, event in events:
            by_stream[stream].append(event)
        for stream, batch in by_stream.items():
            await producer.publish(settings.topics.for_stream(stream), batch)
    finally:
        await producer.stop()


async def stats_of(
    client: httpx.AsyncClient,
    settings: Settings,
    scope: str,
    first: date | None = None,
    last: date | None = None,
) -> dict[str, Any]:
    params = {"scope": scope}
    if first:
        params["from"] = first.isoformat()
    if last:
        params["to"] = last.isoformat()
    r = await client.get("/v1/stats", params=params, headers=auth(settings, "operator", DISTRICT))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def caught_up(client: httpx.AsyncClient, settings: Settings, d: District) -> None:
    """Waits until every figure of the district is the expected one."""
    want = expected_unit(d, DISTRICT, None, None)

    async def check() -> bool:
        got = await stats_of(client, settings, DISTRICT)
        return all(got[k] == pytest.approx(v, rel=1e-9, abs=1e-9) for k, v in want.items())

    await eventually(check, timeout=240, interval=0.5)


async def assert_every_level(
    client: httpx.AsyncClient, settings: Settings, d: District
) -> dict[tuple[str, Any], dict[str, Any]]:
    """Compares district, streets and communities in two windows; returns the answers."""
    answers = {}
    for first, last in [(None, None), SUB_WINDOW]:
        district = await stats_of(client, settings, DISTRICT, first, last)
        answers[(DISTRICT, first)] = district
        assert_same(district, expected_unit(d, DISTRICT, first, last), f"{DISTRICT} {first}")
        categories = expected_categories(d, DISTRICT, first, last)
        assert sorted(district["by_category"]) == sorted(categories)
        for slug, wanted in categories.items():
            assert_same(district["by_category"][slug], wanted, f"category {slug} {first}")
        assert [c["scope"] for c in district["children"]] == sorted(
            f"{DISTRICT}.{s}" for s in STREETS
        )
        for street in STREETS:
            path = f"{DISTRICT}.{street}"
            child = next(c for c in district["children"] if c["scope"] == path)
            street_stats = await stats_of(client, settings, path, first, last)
            answers[(path, first)] = street_stats
            wanted = expected_unit(d, path, first, last)
            assert_same(child, wanted, f"{path} as child {first}")
            assert_same(street_stats, wanted, f"{path} {first}")
            assert street_stats["name"] == f"{street}街道"
            for community in COMMUNITIES:
                cpath = f"{path}.{community}"
                got = await stats_of(client, settings, cpath, first, last)
                answers[(cpath, first)] = got
                wanted = expected_unit(d, cpath, first, last)
                assert_same(got, wanted, f"{cpath} {first}")
                in_street = next(c for c in street_stats["children"] if c["scope"] == cpath)
                assert_same(in_street, wanted, f"{cpath} as child {first}")
    return answers


def shuffled_twice(
    events: list[tuple[str, CloudEvent]], rng: random.Random
) -> list[tuple[str, CloudEvent]]:
    """Every event twice; needs interleaved at random (each need's own order kept, as Kafka
    keeps a key's order), and a few needs' events wholly reversed."""
    by_key: dict[str, list[tuple[str, CloudEvent]]] = defaultdict(list)
    for item in events:
        by_key[item[1].subject].append(item)
    needs = [k for k, v in by_key.items() if v[0][0] == "needs"]
    for key in rng.sample(needs, 8):
        by_key[key].reverse()
    out: list[tuple[str, CloudEvent]] = []
    for _ in range(2):
        queues = [list(v) for v in by_key.values()]
        while queues:
            q = rng.choice(queues)
            out.append(q.pop(0))
            if not q:
                queues.remove(q)
    return out


async def test_every_figure_at_district_street_and_community_level_equals_the_independent_count(
    settings: Settings,
) -> None:
    d = generate_district()
    assert len(d.volunteers) == 240 and len(d.communities) == 12
    assert sum(1 for n in d.needs for c in n.claims if c.released_at) > 10
    async with running(create_app(settings)) as client:
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        await assert_every_level(client, settings, d)


async def test_the_same_events_delivered_twice_and_shuffled_give_the_same_figures(
    settings: Settings,
) -> None:
    d = generate_district(seed=11)
    async with running(create_app(settings)) as client:
        await publish(settings, shuffled_twice(d.events, random.Random(3)))
        await caught_up(client, settings, d)
        await assert_every_level(client, settings, d)


async def test_a_rebuild_from_the_event_log_gives_figures_identical_to_the_live_ones(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"metrics_pointer_poll_s": 0.2})
    d = generate_district(seed=5, needs_per_community=10)
    async with running(create_app(settings)) as client:
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        live = await assert_every_level(client, settings, d)
        generation = live[(DISTRICT, None)]["generation"]
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "shared.cli",
            "metrics",
            "rebuild",
            env=settings_env(settings),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(proc.communicate(), 180)
        assert proc.returncode == 0, err.decode()
        assert "reading events" in err.decode() and "100%" in err.decode()
        assert f"generation {generation + 1} active" in out.decode()

        async def switched() -> bool:
            body = await stats_of(client, settings, DISTRICT)
            return bool(body["generation"] == generation + 1)

        await eventually(switched, timeout=30)
        for (scope, first), before in live.items():
            last = SUB_WINDOW[1] if first else None
            after = await stats_of(client, settings, scope, first, last)
            assert {**after, "generation": 0} == {**before, "generation": 0}, scope
