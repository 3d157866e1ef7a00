"""Who hears what (#12): notify's event-handler registry driven through the fakes
(tests/fakes.py), no broker or database. A need's whole life in one community, with
volunteers near and far, of other skills and of another community, and an admin
subscribed to the community; each recipient's inbox is checked item by item. The same on
the real Kafka and FerretDB: tests/integration/test_notify_fanout.py and test_notify_scale.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from services.notify.adapters.channels import InAppChannel
from services.notify.adapters.contacts import ContactConfirmations
from services.notify.adapters.inbox import InboxHub
from services.notify.handlers import commands, events
from services.notify.handlers.commands import NewSubscription, NotifyDeps
from services.notify.handlers.dispatcher import Dispatcher
from services.notify.handlers.notifier import Notifier
from services.notify.settings import NotifySettings
from shared.auth import Principal
from shared.clock import ManualClock
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import (
    NeedApproved,
    NeedPosted,
    ProjectClaimed,
    TaskCompleted,
    TaskConfirmed,
    VolunteerHours,
)
from shared.events.volunteers import PointsCredited, TeamFormed, TeamMemberJoined
from shared.kafka.producer import EventProducer
from tests.fakes import (
    FakeBursts,
    FakeDeliveries,
    FakeDigests,
    FakeInbox,
    FakeNotifyReadModel,
    FakeProfiles,
    FakeRoutes,
    InMemoryBus,
    NoDatabase,
)
from tests.integration.test_notify_support import FAR, HOME, NEAR, A, B, volunteer

# A weekday morning in Beijing: no quiet hours, no digest.
T0 = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
REQUESTER = "resident-wang"
ADMIN = Principal("adm-a", "community_admin", A)


@dataclass
class Notify:
    deps: NotifyDeps
    bus: InMemoryBus
    inbox: FakeInbox
    deliveries: FakeDeliveries

    def heard(self, recipient_id: str) -> list[str]:
        """The event types in a recipient's inbox, oldest first."""
        return [d["type"] for d in self.inbox.of(recipient_id)]


def notify_service() -> Notify:
    settings = NotifySettings()
    clock = ManualClock(T0)
    read_model = FakeNotifyReadModel()
    profiles = FakeProfiles()
    deliveries = FakeDeliveries(settings.topics.notify)
    inbox = FakeInbox(InboxHub())
    dispatcher = Dispatcher(
        settings,
        clock,
        deliveries,
        profiles,
        {"inapp": InAppChannel(inbox)},
        EventProducer(settings),  # never started: nothing here goes out on Kafka
    )
    routes = FakeRoutes()
    notifier = Notifier(
        settings=settings,
        clock=clock,
        read_model=read_model,
        profiles=profiles,
        routes=routes,
        digests=FakeDigests(),
        deliveries=deliveries,
        inbox=inbox,
        dispatcher=dispatcher,
        bursts=FakeBursts(),
    )
    deps = NotifyDeps.of(notifier, ContactConfirmations(NoDatabase(), {}))
    deps.loaded.set()

    async def flush() -> None:  # as the app's consumer does after each batch
        await events.end_of_batch(deps)

    bus = InMemoryBus(events.EVENT_HANDLERS.bind(deps, ready=deps.loaded), flush)
    return Notify(deps, bus, inbox, deliveries)


def need_life(need_id: str, claimer: str) -> list[EventPayload]:
    """Posted, approved, claimed (every slot), completed, confirmed; the points credited."""
    base = {"need_id": need_id, "community_id": A, "category": "elderly_care", "kind": "wish"}
    title = "给独居老人送年货"
    claim_id, completion_id = str(uuid.uuid4()), str(uuid.uuid4())
    return [
        NeedPosted(
            **base,
            title=title,
            slots=1,
            beneficiaries=1,
            location=HOME,
            requester_id=REQUESTER,
            posted_by=REQUESTER,
            status="pending_review",
            posted_at=T0,
        ),
        NeedApproved(
            **base,
            title=title,
            slots=1,
            location=HOME,
            requester_id=REQUESTER,
            approved_by="adm-a",
            posted_at=T0,
            approved_at=T0 + timedelta(minutes=5),
        ),
        ProjectClaimed(
            **base,
            claim_id=claim_id,
            claimant_type="volunteer",
            volunteer_ids=[claimer],
            slots=1,
            slots_total=1,
            slots_taken=1,
            need_status="claimed",
            requester_id=REQUESTER,
            title=title,
            claimed_by=claimer,
            posted_at=T0,
            claimed_at=T0 + timedelta(minutes=30),
        ),
        TaskCompleted(
            **base,
            completion_id=completion_id,
            claim_ids=[claim_id],
            volunteer_ids=[claimer],
            hours=[VolunteerHours(volunteer_id=claimer, hours=2.0)],
            beneficiaries_served=1,
            goods_count=3,
            funds_cents=0,
            requester_id=REQUESTER,
            completed_by=claimer,
            posted_at=T0,
            completed_at=T0 + timedelta(hours=3),
            title=title,
        ),
        TaskConfirmed(
            **base,
            completion_id=completion_id,
            rating=5,
            volunteer_ids=[claimer],
            confirmed_by=REQUESTER,
            confirmed_at=T0 + timedelta(hours=4),
            title=title,
            requester_id=REQUESTER,
        ),
        PointsCredited(
            volunteer_id=claimer,
            community_id=A,
            points=20,
            balance=20,
            need_id=need_id,
            completion_id=completion_id,
            hours=2.0,
            total_hours=2.0,
            stars=0,
            credited_at=T0 + timedelta(hours=4),
        ),
    ]


async def test_each_event_of_a_need_reaches_exactly_the_people_it_concerns() -> None:
    svc = notify_service()
    await svc.bus.deliver(
        volunteer("v-near", A, ["助老"], NEAR),  # Chinese skill → elderly_care, 0.3 km away
        volunteer("v-far", A, ["助老"], FAR),  # 3 km: outside the radius
        volunteer("v-law", A, ["法律咨询"], NEAR),  # another category
        volunteer("v-elsewhere", B, ["助老"], NEAR),  # another community
    )
    await commands.subscribe(
        svc.deps,
        ADMIN,
        NewSubscription(
            recipient_id=ADMIN.sub,
            channel="inapp",
            target=ADMIN.sub,
            event_types=[NeedApproved.type],
            scope=A,
            categories=[],
            audience="scope",
            secret=None,
        ),
    )
    events = [CloudEvent.wrap(p) for p in need_life(str(uuid.uuid4()), claimer="v-near")]
    await svc.bus.deliver(*events)

    assert svc.heard(REQUESTER) == [
        NeedPosted.type,
        NeedApproved.type,
        ProjectClaimed.type,
        TaskCompleted.type,
    ]
    assert svc.heard("v-near") == [NeedApproved.type, TaskConfirmed.type, PointsCredited.type]
    assert svc.heard(ADMIN.sub) == [NeedApproved.type]  # as a subscriber of A
    for nobody in ("v-far", "v-law", "v-elsewhere"):
        assert svc.heard(nobody) == [], nobody
    matched = next(d for d in svc.inbox.of("v-near") if d["type"] == NeedApproved.type)
    assert "年货" in matched["title"] + matched["body"]


async def test_an_event_that_comes_again_reaches_nobody_twice() -> None:
    svc = notify_service()
    await svc.bus.deliver(volunteer("v-near", A, ["助老"], NEAR))
    approved = CloudEvent.wrap(need_life(str(uuid.uuid4()), claimer="v-near")[1])
    await svc.bus.deliver(approved)
    stored = len(svc.deliveries.store.stored)
    handle = svc.bus.handlers[approved.type]
    await handle(approved, NeedApproved.model_validate(approved.data))  # redelivered
    assert svc.bus.flush is not None
    await svc.bus.flush()

    assert svc.heard(REQUESTER) == [NeedApproved.type]
    assert svc.heard("v-near") == [NeedApproved.type]
    assert len(svc.deliveries.store.stored) == stored == 2


async def test_the_registry_is_keyed_by_payload_class_and_handles_every_stream_notify_reads() -> (
    None
):
    types = {p.type for p in events.EVENT_HANDLERS.payloads}
    assert {NeedApproved.type, PointsCredited.type} <= types
    assert {p.stream for p in events.EVENT_HANDLERS.payloads} == set(events.STREAMS)


async def test_a_team_claim_reaches_the_team_and_a_confirmation_every_member() -> None:
    svc = notify_service()
    formed = TeamFormed(
        team_id="t1",
        community_id=A,
        name="红岩服务队",
        service_type="elderly_care",
        leader_id="lead",
        member_ids=["m1"],
        formed_at=T0,
    )
    joined = TeamMemberJoined(team_id="t1", community_id=A, volunteer_id="m2", joined_at=T0)
    await svc.bus.deliver(formed, joined)
    life = need_life(str(uuid.uuid4()), claimer="m1")
    claimed = life[2]
    assert isinstance(claimed, ProjectClaimed)
    by_team = claimed.model_copy(
        update={"claimant_type": "team", "team_id": "t1", "claimed_by": "lead"}
    )
    confirmed = life[4].model_copy(update={"volunteer_ids": [], "team_ids": ["t1"]})
    await svc.bus.deliver(life[0], by_team, confirmed)

    assert svc.heard(REQUESTER) == [NeedPosted.type, ProjectClaimed.type]
    assert svc.heard("lead") == [TaskConfirmed.type]  # the claimer is not told of its claim
    assert svc.heard("m1") == svc.heard("m2") == [ProjectClaimed.type, TaskConfirmed.type]
