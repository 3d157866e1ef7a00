"""Which streams and event types feed the identity service's handlers."""

from __future__ import annotations

from services.identity import handlers
from services.identity.handlers import IdentityDeps
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.volunteers import (
    OrgUnitUpdated,
    TeamFormed,
    TeamLeaderChanged,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.kafka.consumer import Handler

STREAMS: list[str] = ["volunteers"]


def event_handlers(deps: IdentityDeps) -> dict[str, Handler]:
    async def on_org_unit(event: CloudEvent, payload: EventPayload) -> None:
        assert isinstance(payload, OrgUnitUpdated)
        await handlers.org_unit_updated(deps, payload)

    async def on_volunteer(event: CloudEvent, payload: EventPayload) -> None:
        assert isinstance(payload, VolunteerRegistered)
        await handlers.volunteer_changed(deps, payload)

    async def on_team_formed(event: CloudEvent, payload: EventPayload) -> None:
        assert isinstance(payload, TeamFormed)
        await handlers.team_formed(deps, payload)

    async def on_leader_changed(event: CloudEvent, payload: EventPayload) -> None:
        assert isinstance(payload, TeamLeaderChanged)
        await handlers.team_leader_changed(deps, payload)

    return {
        OrgUnitUpdated.type: on_org_unit,
        VolunteerRegistered.type: on_volunteer,
        VolunteerUpdated.type: on_volunteer,
        TeamFormed.type: on_team_formed,
        TeamLeaderChanged.type: on_leader_changed,
    }
