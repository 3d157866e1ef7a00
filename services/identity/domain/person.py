"""Who holds which role: a person, their grants, the community they act in. No I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Literal, get_args

from pydantic import BaseModel

from shared.errors import DomainError
from shared.visibility import FieldView

# --- roles ------------------------------------------------------------------------------

OfficeRole = Literal["grid_worker", "community_admin", "street_admin", "district_admin", "operator"]
OFFICES: tuple[str, ...] = get_args(OfficeRole)
# Who may appoint whom: an admin appoints offices below their own rank, inside their scope.
RANK = {
    "grid_worker": 1,
    "community_admin": 2,
    "operator": 3,
    "street_admin": 3,
    "district_admin": 4,
}
# The grant chosen when the sign-in names none: the highest office first.
PREFERENCE = [
    "district_admin",
    "street_admin",
    "community_admin",
    "operator",
    "grid_worker",
    "volunteer",
    "resident",
]


class Person(BaseModel):
    id: str
    phone: str
    community_id: str | None = None
    created_at: datetime
    updated_at: datetime


class Grant(BaseModel):
    """One role a person holds: the token's role, scope and sub when it is active."""

    role: str
    scope: str
    sub: str
    label: str = ""
    scope_name: str = ""  # the org unit's Chinese name, for choosing


class VolunteerLink(BaseModel):
    volunteer_id: str
    community_id: str
    name: str
    active: bool = True
    leads_teams: list[str] = []


class Appointment(BaseModel):
    id: str
    person_id: str
    phone: str
    name: str
    role: OfficeRole
    scope: str
    active: bool = True
    appointed_by: str
    appointed_at: datetime
    ended_by: str | None = None
    ended_at: datetime | None = None

    def public(self, view: FieldView) -> dict[str, object]:
        """As `view` (a row of shared.visibility.FIELD_MATRIX) shows it."""
        data = self.model_dump(mode="json")
        data["phone"] = view.text("phone", self.phone)
        data["name"] = view.text("name", self.name)
        return data


def grants_of(
    person: Person, volunteers: list[VolunteerLink], appointments: list[Appointment]
) -> list[Grant]:
    grants = [
        Grant(role=a.role, scope=a.scope, sub=person.id, label=a.name)
        for a in appointments
        if a.active
    ]
    grants += [
        Grant(
            role="volunteer",
            scope=v.community_id,
            sub=v.volunteer_id,
            label="队长" if v.leads_teams else "",
        )
        for v in volunteers
        if v.active
    ]
    if person.community_id:
        grants.append(Grant(role="resident", scope=person.community_id, sub=person.id))
    return sorted(grants, key=lambda g: (PREFERENCE.index(g.role), g.scope))


def choose_grant(
    grants: list[Grant], role: str | None, scope: str | None, previous: Grant | None = None
) -> Grant:
    """The grant a token request asks for, else the one held before, else the highest."""
    if role is not None:
        for g in grants:
            if g.role == role and (scope is None or g.scope == scope):
                return g
        raise DomainError(
            "forbidden",
            f"您没有 {role}{'@' + scope if scope else ''} 身份 / you do not hold this role",
            roles=[g.model_dump() for g in grants],
        )
    if previous is not None:
        for g in grants:
            if (g.role, g.scope, g.sub) == (previous.role, previous.scope, previous.sub):
                return g
    if not grants:
        raise DomainError(
            "invalid",
            "请先选择您所在的社区 / choose your community first (role resident, scope)",
            names_field=True,
            field="scope",
        )
    return grants[0]


def choose_community(person: Person, community_id: str, known: bool, now: datetime) -> Person:
    if not known:
        raise DomainError(
            "invalid",
            f"社区 {community_id} 不存在 / unknown community {community_id}",
            names_field=True,
            field="scope",
        )
    return person.model_copy(update={"community_id": community_id, "updated_at": now})
