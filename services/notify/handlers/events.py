"""Events the notify service consumes: the streams it reads, their handlers and the registry
(`EVENT_HANDLERS`, by payload class), and what a consumer batch stores at its end."""

from __future__ import annotations

import asyncio

from services.notify.domain.audience import (
    Addressee,
    Reason,
    addressees,
    closes_need,
    match_volunteers,
    merge,
)
from services.notify.handlers.commands import NotifyDeps
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import (
    ClaimEvent,
    NeedApproved,
    NeedCancelled,
    NeedEvent,
    NeedPosted,
    NeedRejected,
    ProjectClaimed,
    ProjectClaimReleased,
    ReminderDue,
    TaskCompleted,
    TaskConfirmed,
)
from shared.events.volunteers import (
    OrganizationRegistered,
    OrgUnitUpdated,
    PointsCredited,
    PointsRedeemed,
    TeamEvent,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.kafka.handlers import EventHandlers, on

# --- events ---------------------------------------------------------------------------------


async def on_need_event(deps: NotifyDeps, event: CloudEvent, payload: NeedEvent) -> None:
    need = await deps.read_model.apply_need(payload)
    team_ids: list[str | None] = [c.team_id for c in need.claims.values()]
    if isinstance(payload, ClaimEvent):
        team_ids.append(payload.team_id)
    if isinstance(payload, TaskConfirmed | TaskCompleted):
        team_ids += payload.team_ids
    teams = await deps.read_model.teams_by_id(team_ids)
    found = addressees(payload, need, teams)
    if isinstance(payload, NeedApproved):
        s = deps.settings
        matched = match_volunteers(
            payload,
            deps.read_model.members(payload.community_id),
            s.notify_match_radius_km,
            s.notify_max_recipients_per_need,
            deps.notifier.routes.last,
            s.notify_location_precision_km,
        )
        # Alerted as of now: the next need of this batch chooses among the others first.
        deps.notifier.routes.chosen([a.recipient_id for a in matched], deps.clock.now())
        found = merge([*found, *matched])
    await deps.notifier.notify(event, payload, found, need_title=need.title)
    if closes_need(payload):
        deps.notifier.close_need(payload.need_id)


async def on_volunteer(deps: NotifyDeps, event: CloudEvent, payload: VolunteerRegistered) -> None:
    deps.read_model.put_volunteer(payload)
    await deps.notifier.notify(event, payload, [])


async def on_team(deps: NotifyDeps, event: CloudEvent, payload: TeamEvent) -> None:
    await deps.read_model.apply_team(payload)
    await deps.notifier.notify(event, payload, [])


async def on_org_unit(deps: NotifyDeps, event: CloudEvent, payload: OrgUnitUpdated) -> None:
    await deps.read_model.put_org_unit(payload)
    await deps.notifier.notify(event, payload, [])


async def on_addressed(deps: NotifyDeps, event: CloudEvent, payload: EventPayload) -> None:
    """Events with no read model to update: their addressees and scope subscribers."""
    await deps.notifier.notify(event, payload, addressees(payload, None, {}))


async def on_reminder(deps: NotifyDeps, event: CloudEvent, payload: ReminderDue) -> None:
    """A reminder names its recipients: the claimers of a claim soon due, or the resident
    of a completion awaiting confirmation."""
    reason: Reason = "claimer" if payload.reason == "claim_due" else "requester"
    found = [Addressee(r, reason) for r in payload.recipient_ids]
    await deps.notifier.notify(event, payload, found)


# --- registry -------------------------------------------------------------------------------

EVENT_HANDLERS = EventHandlers[NotifyDeps](
    on(NeedPosted, on_need_event),
    on(NeedApproved, on_need_event),
    on(NeedRejected, on_need_event),
    on(NeedCancelled, on_need_event),
    on(ProjectClaimed, on_need_event),
    on(ProjectClaimReleased, on_need_event),
    on(TaskCompleted, on_need_event),
    on(TaskConfirmed, on_need_event),
    on(VolunteerRegistered, on_volunteer),
    on(VolunteerUpdated, on_volunteer),
    on(TeamFormed, on_team),
    on(TeamMemberJoined, on_team),
    on(TeamLeaderChanged, on_team),
    on(OrgUnitUpdated, on_org_unit),
    on(OrganizationRegistered, on_addressed),
    on(PointsCredited, on_addressed),
    on(PointsRedeemed, on_addressed),
    on(ReminderDue, on_reminder),
)

STREAMS: list[str] = ["needs", "volunteers"]


async def end_of_batch(deps: NotifyDeps) -> None:
    """What a consumer batch leaves to store at its end, before its offsets are committed:
    its notifications (routes, deliveries, inbox items), volunteers' and needs' documents,
    inbox heads, when volunteers were alerted (a few bulk writes for the whole batch)."""
    await asyncio.gather(deps.notifier.flush(), deps.read_model.flush())
    await asyncio.gather(deps.inbox.flush(), deps.notifier.routes.flush())
