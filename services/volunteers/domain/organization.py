"""Organisations (党组织, 社会组织, ...) registered in the org tree. No I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from services.volunteers.domain.org_unit import OrgUnit, clean_text, derived_id, require_community
from shared.events.volunteers import OrganizationRegistered

OrganizationKind = Literal["enterprise", "social_organization"]


# --- organisations --------------------------------------------------------------------


class Organization(BaseModel):
    id: str
    name: str
    kind: OrganizationKind
    community_id: str
    registered_by: str
    created_at: datetime


def register_organization(
    *,
    name: str,
    kind: OrganizationKind,
    community: OrgUnit | None,
    community_id: str,
    actor: str,
    now: datetime,
) -> tuple[Organization, list[OrganizationRegistered]]:
    """One organisation of a name per community (its id is derived from the pair)."""
    clean_name = clean_text(name, "name", "名称", 120)
    require_community(community, community_id, "community_id")
    org = Organization(
        id=derived_id("organization", community_id, clean_name),
        name=clean_name,
        kind=kind,
        community_id=community_id,
        registered_by=actor,
        created_at=now,
    )
    event = OrganizationRegistered(
        organization_id=org.id,
        name=org.name,
        kind=org.kind,
        community_id=community_id,
        registered_at=now,
    )
    return org, [event]
