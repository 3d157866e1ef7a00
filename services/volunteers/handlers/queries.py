"""What clients of the volunteers service read: org units, volunteers, teams,
passbooks, certificates, the supermarket's catalogue and reservations."""

from __future__ import annotations

import asyncio

from services.volunteers.domain import policy
from services.volunteers.domain.certificates import Certificate
from services.volunteers.domain.org_unit import OrgUnit
from services.volunteers.domain.organization import Organization
from services.volunteers.domain.passbook import LedgerEntry, Passbook
from services.volunteers.domain.supermarket import Item, Reservation
from services.volunteers.domain.team import Team
from services.volunteers.domain.volunteer import Volunteer
from services.volunteers.handlers.commands import (
    VolunteersDeps,
    _certificate,
    _load_team,
    _passbook_or_empty,
    _shown_to,
)
from shared.auth import Principal
from shared.http import not_found
from shared.orgpath import OrgPath
from shared.rules import DistrictRules, district_of


async def get_org_unit(deps: VolunteersDeps, path: str) -> tuple[OrgUnit, list[OrgUnit]]:
    """The org tree is readable by every authenticated caller: names are not secrets."""
    OrgPath.parse(path)
    unit, _ = await deps.repo.get_org(path)
    if unit is None:
        raise not_found("org unit", path)
    return unit, await deps.repo.children(path)


async def get_district_rules(deps: VolunteersDeps, district: str) -> DistrictRules:
    OrgPath.parse(district)
    return await deps.repo.get_rules(district)


async def get_volunteer(deps: VolunteersDeps, actor: Principal, volunteer_id: str) -> Volunteer:
    volunteer, _ = await deps.repo.get_volunteer(volunteer_id)
    if volunteer is None:
        raise not_found("volunteer", volunteer_id)
    policy.require_volunteer_reader(actor, volunteer)
    return volunteer


async def list_volunteers(
    deps: VolunteersDeps,
    actor: Principal,
    *,
    scope: str | None,
    skill: str | None,
    q: str | None,
    include_inactive: bool,
    cursor: str | None,
    limit: int,
) -> tuple[list[Volunteer], str | None]:
    scope = scope or actor.scope
    policy.require_scope(actor, scope)
    return await deps.repo.list_volunteers(
        scope, skill=skill, q=q, include_inactive=include_inactive, cursor=cursor, limit=limit
    )


async def get_organization(deps: VolunteersDeps, actor: Principal, org_id: str) -> Organization:
    org, _ = await deps.repo.get_organization(org_id)
    if org is None:
        raise not_found("organization", org_id)
    policy.require_visible(actor, org.community_id, "organization", org_id)
    return org


async def get_team(deps: VolunteersDeps, actor: Principal, team_id: str) -> Team:
    return (await _load_team(deps, actor, team_id))[0]


async def get_passbook(
    deps: VolunteersDeps, actor: Principal, volunteer_id: str, limit: int
) -> tuple[Passbook, list[LedgerEntry], int]:
    """The passbook, its newest entries, and its stars by the district's thresholds."""
    book, version = await _passbook_or_empty(deps, volunteer_id)
    policy.require_passbook_reader(actor, volunteer_id, book.community_id)
    rules = await deps.repo.get_rules(district_of(book.community_id))
    return book, await deps.repo.ledger(volunteer_id, version, limit), rules.stars_for(book.hours)


async def get_certificate(deps: VolunteersDeps, actor: Principal, serial: str) -> Certificate:
    cert, _ = await _certificate(deps, serial)
    policy.require_certificate_reader(actor, cert.volunteer_id, cert.issuer_id)
    return cert


async def verify_certificate(deps: VolunteersDeps, serial: str) -> Certificate:
    """Anyone may check a serial: what it answers is masked (verify view)."""
    return (await _certificate(deps, serial))[0]


async def catalogue(
    deps: VolunteersDeps, actor: Principal, community_id: str
) -> list[tuple[Item, int]]:
    """The community's items with the stock free now."""
    policy.require_visible(actor, community_id, "community", community_id)
    items = await deps.repo.list_items(community_id)
    stock = await asyncio.gather(*(deps.repo.free_units(i.id) for i in items))
    return [(item, len(free)) for item, free in zip(items, stock, strict=True)]


async def get_reservation(
    deps: VolunteersDeps, actor: Principal, reservation_id: str
) -> Reservation:
    r, _ = await deps.repo.get_reservation(reservation_id)
    if r is None:
        raise not_found("reservation", reservation_id)
    policy.require_passbook_reader(actor, r.volunteer_id, r.community_id)
    return _shown_to(actor, r)
