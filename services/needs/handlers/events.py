"""Events the needs service consumes: the streams it reads and their handlers."""

from __future__ import annotations

from services.needs.handlers.commands import NeedsDeps
from services.needs.metrics import READ_MODEL_UPDATES
from shared.events.envelope import CloudEvent
from shared.events.volunteers import (
    DistrictRulesChanged,
    OrganizationRegistered,
    OrgUnitUpdated,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.kafka.handlers import EventHandlers, on

# the read model of the volunteers stream ------------------------------------------------


async def on_org_unit_updated(deps: NeedsDeps, _: CloudEvent, e: OrgUnitUpdated) -> None:
    await deps.directory.record_org_unit(e)
    READ_MODEL_UPDATES.labels("org_unit").inc()


async def on_volunteer(deps: NeedsDeps, _: CloudEvent, e: VolunteerRegistered) -> None:
    # VolunteerUpdated is a VolunteerRegistered too.
    await deps.directory.record_volunteer(e)
    READ_MODEL_UPDATES.labels("volunteer").inc()


async def on_district_rules_changed(
    deps: NeedsDeps, _: CloudEvent, e: DistrictRulesChanged
) -> None:
    await deps.directory.record_rules(e)
    READ_MODEL_UPDATES.labels("district_rules").inc()


async def on_organization_registered(
    deps: NeedsDeps, _: CloudEvent, e: OrganizationRegistered
) -> None:
    await deps.directory.record_organization(e)
    READ_MODEL_UPDATES.labels("organization").inc()


async def on_team_formed(deps: NeedsDeps, _: CloudEvent, e: TeamFormed) -> None:
    await deps.directory.record_team_formed(e)
    READ_MODEL_UPDATES.labels("team").inc()


async def on_team_member_joined(deps: NeedsDeps, _: CloudEvent, e: TeamMemberJoined) -> None:
    await deps.directory.record_member_joined(e)
    READ_MODEL_UPDATES.labels("team").inc()


async def on_team_leader_changed(deps: NeedsDeps, _: CloudEvent, e: TeamLeaderChanged) -> None:
    await deps.directory.record_leader_changed(e)
    READ_MODEL_UPDATES.labels("team").inc()


EVENT_HANDLERS = EventHandlers[NeedsDeps](
    on(OrgUnitUpdated, on_org_unit_updated),
    on(VolunteerRegistered, on_volunteer),
    on(VolunteerUpdated, on_volunteer),
    on(OrganizationRegistered, on_organization_registered),
    on(TeamFormed, on_team_formed),
    on(TeamMemberJoined, on_team_member_joined),
    on(TeamLeaderChanged, on_team_leader_changed),
    on(DistrictRulesChanged, on_district_rules_changed),
)

# The needs service learns who and where (org units, volunteers, teams, organisations)
# from the volunteers stream, into its own read model: it never calls another service.
STREAMS: list[str] = ["volunteers"]
