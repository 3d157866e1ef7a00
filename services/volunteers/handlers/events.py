"""Events the volunteers service consumes: the streams it reads and their handlers."""

from __future__ import annotations

import asyncio

from services.volunteers.domain import passbook
from services.volunteers.handlers.commands import VolunteersDeps, decided_again
from services.volunteers.metrics import POINTS_CREDITED
from shared.events.envelope import CloudEvent
from shared.events.needs import HoursVerified, TaskCompleted
from shared.kafka.handlers import EventHandlers, on
from shared.logging import get_logger
from shared.rules import district_of

log = get_logger(__name__)

CREDIT_CONCURRENCY = 8


async def on_verified_hours(
    deps: VolunteersDeps, event: CloudEvent, task: TaskCompleted | HoursVerified
) -> None:
    await credit_task_hours(deps, task, event.correlationid)


async def credit_task_hours(
    deps: VolunteersDeps, task: TaskCompleted | HoursVerified, cid: str | None
) -> None:
    """Points for verified hours (the district's points per hour) to each volunteer of a
    completion, once per revision however often it is delivered; a later revision posts
    the difference. Completions published before verification existed (`hours_status`
    "verified") were final and count as revision 1; declared hours earn nothing yet.
    A volunteer unknown here is still credited (the passbook exists by id, in the
    completion's community): the hours were served and verified upstream."""
    if isinstance(task, TaskCompleted) and task.hours_status != "verified":
        return
    revision = task.revision if isinstance(task, HoursVerified) else 1
    service = passbook.Credit(
        revision=revision,
        points=0,
        hours=0,
        need_id=task.need_id,
        title=task.title,
        community_id=task.community_id,
        served_at=task.completed_at,
    )
    rules = await deps.repo.get_rules(district_of(task.community_id))
    hours: dict[str, float] = {}
    for h in task.hours:
        hours[h.volunteer_id] = passbook.add_hours(hours.get(h.volunteer_id, 0.0), h.hours)
    # Each volunteer's passbook is its own aggregate: credited side by side (a team's or an
    # organisation's completion names many), a few at a time. Each credit happens once per
    # revision, so a redelivery after a partial failure credits only the rest.
    gate = asyncio.Semaphore(CREDIT_CONCURRENCY)

    async def credit_one(volunteer_id: str, served: float) -> None:
        async def attempt() -> None:
            book, version = await deps.repo.get_passbook(volunteer_id)
            if book is None:
                volunteer, _ = await deps.repo.get_volunteer(volunteer_id)
                if volunteer is None:
                    log.warning("credit_for_unknown_volunteer", volunteer_id=volunteer_id)
                community = volunteer.home_community_id if volunteer else task.community_id
                book = passbook.empty(volunteer_id, community, deps.clock.now())
            credited = passbook.credit(
                book,
                need_id=task.need_id,
                completion_id=task.completion_id,
                hours=served,
                now=deps.clock.now(),
                revision=revision,
                rules=rules,
                service=service,
            )
            if credited is None:
                return
            updated, entry, event = credited
            await deps.repo.save_passbook(updated, version, entry, [event], cid)
            POINTS_CREDITED.inc(entry.points)

        async with gate:
            await decided_again("passbooks", attempt)

    outcomes = await asyncio.gather(
        *(credit_one(v, served) for v, served in hours.items()), return_exceptions=True
    )
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    if failed:  # all have finished; the event is handled again (the rest is credited once)
        raise failed[0]


EVENT_HANDLERS = EventHandlers[VolunteersDeps](
    on(TaskCompleted, on_verified_hours), on(HoursVerified, on_verified_hours)
)

STREAMS: list[str] = ["needs"]
