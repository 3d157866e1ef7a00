"""The service layer through the fakes (tests/fakes.py): the handlers, the unit of work and
the event-handler registries of needs, volunteers and metrics, with no broker or database.
The same behaviour on the real Kafka and FerretDB is in tests/integration."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from prometheus_client import REGISTRY

from services.metrics.adapters.repository import Pointer
from services.metrics.handlers import events as metrics_events
from services.metrics.handlers.projection import Projection
from services.metrics.settings import MetricsSettings
from services.needs.adapters.photos import PhotoStore
from services.needs.adapters.repository import NeedsRepository
from services.needs.domain import need as needs_need
from services.needs.handlers import commands as needs_commands
from services.needs.handlers import events as needs_events_handlers
from services.needs.handlers.commands import NeedsDeps
from services.needs.schemas import ClaimNeed, PostNeed
from services.needs.settings import NeedsSettings
from services.volunteers.adapters.repository import VolunteersRepository
from services.volunteers.handlers import events as volunteers_events
from services.volunteers.handlers.commands import VolunteersDeps
from services.volunteers.settings import VolunteersSettings
from shared.auth import Principal
from shared.clock import ManualClock
from shared.errors import DomainError
from shared.events.envelope import CloudEvent
from shared.events.needs import TaskCompleted, VolunteerHours
from tests.fakes import (
    FakeClaimSlots,
    FakeDirectory,
    FakeFactStore,
    FakeStore,
    FakeStores,
    InMemoryBus,
    NoDatabase,
)
from tests.needs_support import COMMUNITY, need_body, org_unit, volunteer

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
RESIDENT = Principal("r1", "resident", COMMUNITY)
ADMIN = Principal("a1", "community_admin", COMMUNITY)


@dataclass
class Needs:
    deps: NeedsDeps
    store: FakeStore
    bus: InMemoryBus


async def needs_service(*known_volunteers: str) -> Needs:
    """The needs service on fakes, knowing COMMUNITY and these volunteers from events."""
    settings = NeedsSettings()
    clock = ManualClock(T0)
    store = FakeStore("needs")
    deps = NeedsDeps(
        repo=NeedsRepository(store, settings, lambda: needs_need.ms(clock.now())),
        directory=FakeDirectory(),
        settings=settings,
        slots=FakeClaimSlots(),
        photos=PhotoStore(NoDatabase()),
        clock=clock,
    )
    deps.repo.lists.loaded.set()  # nothing stored yet; the fake store hands it every write
    bus = InMemoryBus(needs_events_handlers.EVENT_HANDLERS.bind(deps))
    await bus.deliver(org_unit(COMMUNITY), *(volunteer(v) for v in known_volunteers))
    return Needs(deps, store, bus)


def post(**overrides: object) -> PostNeed:
    return PostNeed.model_validate(need_body(**overrides))


async def test_a_post_repeated_with_its_idempotency_key_answers_the_first_need_once() -> None:
    svc = await needs_service()
    first, version, replayed = await needs_commands.post_need(
        svc.deps, RESIDENT, post(), "k1", None
    )
    again, again_version, again_replayed = await needs_commands.post_need(
        svc.deps, RESIDENT, post(), "k1", None
    )
    assert (replayed, again_replayed) == (False, True)
    assert (again.id, again_version) == (first.id, version) == (first.id, 1)
    assert [e.type for e in svc.store.take_published()] == ["org.tongxin.need.posted"]
    with pytest.raises(DomainError) as other_body:
        await needs_commands.post_need(svc.deps, RESIDENT, post(title="另一个需求"), "k1", None)
    assert other_body.value.kind == "conflict" and other_body.value.details == {"need_id": first.id}
    assert len(svc.store.stored) == 1  # nothing written by the replay or the refusal


async def test_two_posts_racing_with_one_key_store_one_need_and_answer_it_twice() -> None:
    svc = await needs_service()
    answers = await asyncio.gather(
        *(needs_commands.post_need(svc.deps, RESIDENT, post(), "k2", None) for _ in range(2))
    )
    assert {need.id for need, _, _ in answers} == {answers[0][0].id}
    assert sorted(replayed for _, _, replayed in answers) == [False, True]
    assert len(svc.store.take_published()) == 1


async def test_the_last_slot_goes_to_exactly_one_of_two_racing_volunteers() -> None:
    svc = await needs_service("v1", "v2")
    need, _, _ = await needs_commands.post_need(svc.deps, ADMIN, post(slots=1), None, None)
    await needs_commands.approve_need(svc.deps, ADMIN, need.id, None)
    conflicts_before = claim_conflicts()
    results = await asyncio.gather(
        *(
            needs_commands.claim_need(
                svc.deps,
                Principal(v, "volunteer", COMMUNITY),
                need.id,
                ClaimNeed(volunteer_id=v),
                None,
            )
            for v in ("v1", "v2")
        ),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, tuple)]
    lost = [r for r in results if isinstance(r, BaseException)]
    assert len(won) == 1 and len(lost) == 1
    assert isinstance(lost[0], DomainError) and lost[0].kind == "conflict"
    # Both decided on version 2; the store's unique insert took one, the other decided again.
    assert claim_conflicts() == conflicts_before + 1
    claimed, version = await svc.deps.repo.get(need.id)
    assert claimed is not None and claimed.status == "claimed" and version == 3
    assert [c.volunteer_ids for c in claimed.claims] == [won[0][2].volunteer_ids]
    published = [e.type for e in svc.store.take_published()]
    assert published.count("org.tongxin.project.claimed") == 1


def claim_conflicts() -> float:
    value = REGISTRY.get_sample_value("tongxin_needs_commit_conflicts_total", {"action": "claim"})
    return value or 0.0


@dataclass
class Volunteers:
    deps: VolunteersDeps
    stores: FakeStores
    bus: InMemoryBus


def volunteers_service() -> Volunteers:
    stores = FakeStores()
    clock = ManualClock(T0)
    deps = VolunteersDeps(
        repo=VolunteersRepository(stores, VolunteersSettings(), clock.now), clock=clock
    )
    return Volunteers(deps, stores, InMemoryBus(volunteers_events.EVENT_HANDLERS.bind(deps)))


def completion(completion_id: str, hours: float) -> TaskCompleted:
    return TaskCompleted(
        need_id="n1",
        community_id=COMMUNITY,
        category="elderly_care",
        kind="wish",
        completion_id=completion_id,
        claim_ids=["c1"],
        volunteer_ids=["v1"],
        hours=[VolunteerHours(volunteer_id="v1", hours=hours)],
        beneficiaries_served=1,
        goods_count=0,
        funds_cents=0,
        requester_id="r1",
        completed_by="v1",
        posted_at=T0,
        completed_at=T0,
    )


async def test_a_completion_credits_the_passbook_once_however_often_it_arrives() -> None:
    svc = volunteers_service()
    event = CloudEvent.wrap(completion("done-1", 2.5))
    await svc.bus.deliver(event, event)  # a redelivery of the same event: the ledger
    await svc.bus.deliver(completion("done-1", 2.5))  # the same completion, another event id
    book, version = await svc.deps.repo.get_passbook("v1")
    assert book is not None and (book.balance, book.hours, version) == (25, 2.5, 1)
    assert [e.type for e in svc.stores.take_published()] == ["org.tongxin.points.credited"]
    await svc.bus.deliver(completion("done-2", 1.0))
    book, version = await svc.deps.repo.get_passbook("v1")
    assert book is not None and (book.balance, version) == (35, 2)


def projection_on_fakes() -> tuple[Projection, FakeFactStore, InMemoryBus]:
    projection = Projection(NoDatabase(), MetricsSettings())  # type: ignore[arg-type]
    facts = FakeFactStore(generation=1)
    projection.store, projection.pointer = facts, Pointer(active=1)
    projection.ready.set()
    return projection, facts, InMemoryBus(metrics_events.EVENT_HANDLERS.bind(projection))


async def needs_events() -> list[CloudEvent]:
    """A need posted and approved, as the needs service publishes them."""
    svc = await needs_service()
    need, _, _ = await needs_commands.post_need(svc.deps, ADMIN, post(), None, None)
    await needs_commands.approve_need(svc.deps, ADMIN, need.id, None)
    return svc.store.take_published()


async def test_the_projection_stores_a_batch_at_its_flush_and_counts_each_event_once() -> None:
    projection, facts, bus = projection_on_fakes()
    posted, approved = await needs_events()
    await bus.deliver(posted, approved)
    assert facts.versions == {}  # handled, not yet stored: the batch's flush stores it
    await projection.flush()
    await bus.deliver(approved)  # the ledger of the bus is not what dedups here:
    bus.seen.clear()
    await bus.deliver(posted, approved)  # the fact remembers the event ids merged into it
    await projection.flush()
    day = T0.astimezone(projection.tz).date()
    stats = projection.stats(COMMUNITY, None, date(day.year + 1, 1, 1))
    assert (stats["needs_posted"], stats["needs_approved"]) == (1, 1)
    assert [sorted(v) for v in facts.versions.values()] == [[1]]


async def test_a_flush_beaten_by_another_instance_merges_onto_its_version() -> None:
    projection, facts, bus = projection_on_fakes()
    other, _, other_bus = projection_on_fakes()
    other.store = facts  # a second replica writing the same generation
    posted, approved = await needs_events()
    await other_bus.deliver(posted)
    await other.flush()  # stores version 1, unknown to the first replica's mirror
    await bus.deliver(approved)
    await projection.flush()
    assert [sorted(v) for v in facts.versions.values()] == [[1, 2]]
    stats = projection.stats(COMMUNITY, None, None)
    assert (stats["needs_posted"], stats["needs_approved"]) == (1, 1)
