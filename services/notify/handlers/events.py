"""Events the notify service consumes: the streams it reads and their handlers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

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
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.kafka.consumer import Handler

# --- events ---------------------------------------------------------------------------------


async def on_need_event(deps: NotifyDeps, event: CloudEvent, payload: EventPayload) -> None:
    assert isinstance(payload, NeedEvent)
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
        found = merge([*found, *matched])
    if closes_need(payload):
        await deps.notifier.drop_invitations(payload.need_id)
    await deps.notifier.notify(event, payload, found, need_title=need.title)


async def on_volunteer(deps: NotifyDeps, event: CloudEvent, payload: EventPayload) -> None:
    assert isinstance(payload, VolunteerRegistered)
    deps.read_model.put_volunteer(payload)
    await deps.notifier.notify(event, payload, [])


async def on_team(deps: NotifyDeps, event: CloudEvent, payload: EventPayload) -> None:
    await deps.read_model.apply_team(payload)
    await deps.notifier.notify(event, payload, [])


async def on_org_unit(deps: NotifyDeps, event: CloudEvent, payload: EventPayload) -> None:
    assert isinstance(payload, OrgUnitUpdated)
    await deps.read_model.put_org_unit(payload)
    await deps.notifier.notify(event, payload, [])


async def on_addressed(deps: NotifyDeps, event: CloudEvent, payload: EventPayload) -> None:
    """Events with no read model to update: their addressees and scope subscribers."""
    await deps.notifier.notify(event, payload, addressees(payload, None, {}))


async def on_reminder(deps: NotifyDeps, event: CloudEvent, payload: EventPayload) -> None:
    """A reminder names its recipients: the claimers of a claim soon due, or the resident
    of a completion awaiting confirmation."""
    assert isinstance(payload, ReminderDue)
    reason: Reason = "claimer" if payload.reason == "claim_due" else "requester"
    found = [Addressee(r, reason) for r in payload.recipient_ids]
    await deps.notifier.notify(event, payload, found)


# --- registry -------------------------------------------------------------------------------

EventHandler = Callable[[NotifyDeps, CloudEvent, EventPayload], Awaitable[None]]

EVENT_HANDLERS: dict[str, EventHandler] = {
    NeedPosted.type: on_need_event,
    NeedApproved.type: on_need_event,
    NeedRejected.type: on_need_event,
    NeedCancelled.type: on_need_event,
    ProjectClaimed.type: on_need_event,
    ProjectClaimReleased.type: on_need_event,
    TaskCompleted.type: on_need_event,
    TaskConfirmed.type: on_need_event,
    VolunteerRegistered.type: on_volunteer,
    VolunteerUpdated.type: on_volunteer,
    TeamFormed.type: on_team,
    TeamMemberJoined.type: on_team,
    TeamLeaderChanged.type: on_team,
    OrgUnitUpdated.type: on_org_unit,
    OrganizationRegistered.type: on_addressed,
    PointsCredited.type: on_addressed,
    PointsRedeemed.type: on_addressed,
    ReminderDue.type: on_reminder,
}

STREAMS: list[str] = ["needs", "volunteers"]


def event_handlers(deps: NotifyDeps) -> dict[str, Handler]:
    def bind(handler: EventHandler) -> Handler:
        async def handle(event: CloudEvent, payload: EventPayload) -> None:
            await deps.loaded.wait()
            await handler(deps, event, payload)

        return handle

    return {event_type: bind(handler) for event_type, handler in EVENT_HANDLERS.items()}
