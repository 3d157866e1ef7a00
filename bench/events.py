"""Realistic event streams for the benchmarks, built from the typed payloads of shared/events.

A campaign: a district of communities, a pool of volunteers who have reported in, and
needs that go through their whole life (posted, approved, claimed, completed, points
credited, confirmed, a notification delivered), each event of the size the services send.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import (
    Location,
    NeedApproved,
    NeedPosted,
    ProjectClaimed,
    TaskCompleted,
    TaskConfirmed,
    VolunteerHours,
)
from shared.events.notify import NotificationDelivered
from shared.events.volunteers import OrgUnitUpdated, PointsCredited, VolunteerRegistered

DISTRICT = "benchcity"

# (category, skill, title) as the programmes word them.
NEED_KINDS: list[tuple[str, str, str]] = [
    ("elderly_care", "elderly_care", "为96岁独居老人购买年货 / New-Year goods for a 96-year-old"),
    ("education_aid", "tutoring", "为留守儿童辅导功课 / Homework help for a left-behind child"),
    ("medical", "first_aid", "陪同老人到社区医院复诊 / Escort to a follow-up at the clinic"),
    ("domestic_help", "repairs", "帮残疾人家庭修理漏水水管 / Fix a leaking pipe for a family"),
    ("security_patrol", "patrol", "春节期间夜间治安巡逻 / Night patrols over the Spring Festival"),
    ("legal_aid", "law", "为居民提供法律咨询 / Legal consultation for residents"),
    ("culture_leisure", "music", "组织社区中秋文艺晚会 / A Mid-Autumn evening of music"),
    ("hardship_relief", "elderly_care", "为困难家庭送轮椅一台 / A wheelchair for a family"),
]
NAMES = ["王建国", "李秀英", "张伟", "刘洋", "陈静", "杨帆", "赵磊", "黄丽", "周敏", "吴强"]


def community_paths(streets: int, per_street: int) -> list[str]:
    return [f"{DISTRICT}.s{s}.c{c}" for s in range(streets) for c in range(per_street)]


@dataclass
class Campaign:
    """Generates events in the order they happen; every id is a fresh UUID."""

    communities: list[str] = field(default_factory=lambda: community_paths(2, 5))
    seed: int = 7
    # (volunteer id, home community) of volunteers known to the services before the run.
    pool: list[tuple[str, str]] = field(default_factory=list)
    # Every need and volunteer id this campaign has named.
    known_ids: set[str] = field(default_factory=set)
    _clock: datetime = field(default_factory=lambda: datetime.now(UTC) - timedelta(days=1))

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)

    def _tick(self, seconds: float = 1.0) -> datetime:
        self._clock += timedelta(seconds=seconds)
        return self._clock

    def _location(self) -> Location:
        return Location(lat=22.5 + self._rng.random() * 0.1, lon=114.0 + self._rng.random() * 0.1)

    def org_units(self) -> list[EventPayload]:
        streets = sorted({c.rsplit(".", 1)[0] for c in self.communities})
        units: list[EventPayload] = [
            OrgUnitUpdated(
                path=DISTRICT,
                name="基准区 / Bench district",
                level="district",
                updated_by="bench",
                updated_at=self._tick(),
            )
        ]
        for path in streets:
            units.append(
                OrgUnitUpdated(
                    path=path,
                    name=f"街道 {path} / street",
                    level="street",
                    parent=DISTRICT,
                    updated_by="bench",
                    updated_at=self._tick(),
                )
            )
        for path in self.communities:
            units.append(
                OrgUnitUpdated(
                    path=path,
                    name=f"社区 {path} / community",
                    level="community",
                    parent=path.rsplit(".", 1)[0],
                    updated_by="bench",
                    updated_at=self._tick(),
                )
            )
        return units

    def register(
        self, volunteer_id: str | None = None, community: str | None = None
    ) -> VolunteerRegistered:
        community = community or self._rng.choice(self.communities)
        volunteer_id = volunteer_id or str(uuid.uuid4())
        self.known_ids.add(volunteer_id)
        return VolunteerRegistered(
            volunteer_id=volunteer_id,
            name=self._rng.choice(NAMES),
            home_community_id=community,
            skills=sorted({self._rng.choice(NEED_KINDS)[1] for _ in range(2)}),
            location=self._location(),
            registered_at=self._tick(),
        )

    def fill_pool(self, per_community: int) -> list[EventPayload]:
        """Volunteers who reported in before the campaign: the claimers of its needs."""
        events: list[EventPayload] = []
        for community in self.communities:
            for _ in range(per_community):
                registered = self.register(community=community)
                self.pool.append((registered.volunteer_id, community))
                events.append(registered)
        return events

    def need_life(self) -> list[EventPayload]:
        """One need from posting to confirmation, with the events around it."""
        if not self.pool:
            self.fill_pool(1)
        volunteer_id, community = self._rng.choice(self.pool)
        category, skill, title = self._rng.choice(NEED_KINDS)
        need_id = str(uuid.uuid4())
        self.known_ids.add(need_id)
        requester = f"resident-{uuid.uuid4().hex[:12]}"
        admin = f"admin-{community}"
        location = self._location()
        base = {"need_id": need_id, "community_id": community, "category": category}
        posted_at = self._tick()
        approved_at = self._tick(600)
        claimed_at = self._tick(1800)
        completed_at = self._tick(7200)
        hours = round(self._rng.uniform(0.5, 4.0), 1)
        completion_id = str(uuid.uuid4())
        claim_id = str(uuid.uuid4())
        return [
            self.register(),  # someone else reports in meanwhile
            NeedPosted(
                **base,
                kind="wish",
                title=title,
                slots=1,
                beneficiaries=self._rng.randint(1, 5),
                skills=[skill],
                location=location,
                due_at=posted_at + timedelta(days=14),
                requester_id=requester,
                posted_by=requester,
                status="pending_review",
                posted_at=posted_at,
            ),
            NeedApproved(
                **base,
                kind="wish",
                title=title,
                slots=1,
                skills=[skill],
                location=location,
                due_at=posted_at + timedelta(days=14),
                requester_id=requester,
                approved_by=admin,
                posted_at=posted_at,
                approved_at=approved_at,
            ),
            NotificationDelivered(
                notification_id=str(uuid.uuid4()),
                source_event_id=str(uuid.uuid4()),
                source_event_type=NeedApproved.type,
                recipient_id=volunteer_id,
                channel="inapp",
                community_id=community,
                need_id=need_id,
                delivered_at=self._tick(),
            ),
            ProjectClaimed(
                **base,
                kind="wish",
                claim_id=claim_id,
                claimant_type="volunteer",
                volunteer_ids=[volunteer_id],
                slots=1,
                slots_total=1,
                slots_taken=1,
                need_status="claimed",
                requester_id=requester,
                title=title,
                claimed_by=volunteer_id,
                posted_at=posted_at,
                claimed_at=claimed_at,
                expires_at=claimed_at + timedelta(days=14),
            ),
            TaskCompleted(
                **base,
                kind="wish",
                completion_id=completion_id,
                claim_ids=[claim_id],
                volunteer_ids=[volunteer_id],
                hours=[VolunteerHours(volunteer_id=volunteer_id, hours=hours)],
                beneficiaries_served=self._rng.randint(1, 5),
                goods_count=self._rng.randint(0, 10),
                funds_cents=self._rng.randint(0, 50_000),
                note="已送达，老人很满意 / delivered, the resident is pleased",
                evidence_urls=[f"https://example.org/evidence/{completion_id}.jpg"],
                requester_id=requester,
                completed_by=volunteer_id,
                posted_at=posted_at,
                due_at=posted_at + timedelta(days=14),
                completed_at=completed_at,
                title=title,
            ),
            PointsCredited(
                volunteer_id=volunteer_id,
                community_id=community,
                points=int(hours * 10),
                balance=int(hours * 10),
                need_id=need_id,
                completion_id=completion_id,
                hours=hours,
                total_hours=hours,
                stars=0,
                credited_at=self._tick(),
            ),
            TaskConfirmed(
                **base,
                kind="wish",
                completion_id=completion_id,
                rating=self._rng.randint(4, 5),
                comment="感谢志愿者 / thank you",
                volunteer_ids=[volunteer_id],
                confirmed_by=requester,
                confirmed_at=self._tick(3600),
                title=title,
                requester_id=requester,
            ),
        ]

    def batch(self, n: int, streams: Iterable[str]) -> list[CloudEvent]:
        """`n` events of whole need lives, keeping only those on `streams`."""
        wanted = set(streams)
        out: list[CloudEvent] = []
        while len(out) < n:
            out.extend(wrap(e for e in self.need_life() if e.stream in wanted))
        return out[:n]


def wrap(payloads: Iterable[EventPayload]) -> list[CloudEvent]:
    return [CloudEvent.wrap(p, correlation_id=str(uuid.uuid4())) for p in payloads]


def only(events: Sequence[CloudEvent], streams: Iterable[str]) -> list[CloudEvent]:
    wanted = {f"/tongxin/{s}" for s in streams}
    return [e for e in events if e.source in wanted]


def stream_of(event: CloudEvent) -> str:
    """`/tongxin/needs` → `needs`."""
    return event.source.rsplit("/", 1)[-1]
