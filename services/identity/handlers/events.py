"""Events the identity service consumes: the streams it reads and their handlers."""

from __future__ import annotations

from services.identity.handlers.commands import IdentityDeps
from shared.events.envelope import CloudEvent
from shared.events.volunteers import (
    OrgUnitUpdated,
    TeamFormed,
    TeamLeaderChanged,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.kafka.handlers import EventHandlers, on

# --- events from the volunteers stream --------------------------------------------------


async def org_unit_updated(deps: IdentityDeps, _: CloudEvent, e: OrgUnitUpdated) -> None:
    await deps.repo.put_org_unit(
        e.path,
        {"name": e.name, "level": e.level, "parent": e.parent, "updated_at": e.updated_at},
    )


async def volunteer_changed(deps: IdentityDeps, _: CloudEvent, e: VolunteerRegistered) -> None:
    at = e.updated_at if isinstance(e, VolunteerUpdated) else e.registered_at
    doc = {
        "community_id": e.home_community_id,
        "name": e.name,
        "active": e.active,
        "at": at,
    }
    if e.identity_link is not None:
        doc["phone_link"] = e.identity_link
    else:
        current = await deps.repo.volunteers.find_one({"_id": e.volunteer_id})
        if current is None or "phone_link" not in current:
            return  # nothing to link it by (reported in before #14 or without the key)
        doc["phone_link"] = current["phone_link"]
    await deps.repo.put_volunteer(e.volunteer_id, doc)


async def team_formed(deps: IdentityDeps, _: CloudEvent, e: TeamFormed) -> None:
    await deps.repo.put_team_leader(e.team_id, e.leader_id, e.formed_at)


async def team_leader_changed(deps: IdentityDeps, _: CloudEvent, e: TeamLeaderChanged) -> None:
    await deps.repo.put_team_leader(e.team_id, e.leader_id, e.changed_at)


EVENT_HANDLERS = EventHandlers[IdentityDeps](
    on(OrgUnitUpdated, org_unit_updated),
    on(VolunteerRegistered, volunteer_changed),
    on(VolunteerUpdated, volunteer_changed),
    on(TeamFormed, team_formed),
    on(TeamLeaderChanged, team_leader_changed),
)

STREAMS: list[str] = ["volunteers"]
