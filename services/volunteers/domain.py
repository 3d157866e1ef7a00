"""Org units, volunteers, organisations and teams: their state and their rules. No I/O.

Every rule takes the current state (None when the aggregate does not exist yet) and
returns the new state with the events it causes; an empty event list means "unchanged".

Long because it holds four aggregates that share its text and phone rules; it splits into one
module per aggregate (domain/) with the planned re-layout of every service.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from shared import inputs
from shared.categories import skill_slug
from shared.errors import DomainError
from shared.events.needs import Location
from shared.events.volunteers import (
    DistrictRulesChanged,
    OrganizationRegistered,
    OrgLevel,
    OrgUnitUpdated,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.messages import SIMPLE
from shared.orgpath import OrgPath
from shared.phones import normal_phone, phone_link
from shared.rules import DistrictRules
from shared.visibility import coarse_location, mask_name

TeamServiceType = Literal[
    "dispute_mediation",
    "security_patrol",
    "policy_outreach",
    "culture_leisure",
    "medical",
    "legal_aid",
    "elderly_care",
]
OrganizationKind = Literal["enterprise", "social_organization"]

# Ids derived from natural keys make the version-1 commit insert the duplicate arbiter.
ID_NAMESPACE = uuid.UUID("5f1c1a3e-2b57-4c1e-9d0a-7a6f2c3b9e10")


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


def clean_text(value: str, field: str, label: str, max_len: int, required: bool = True) -> str:
    """Spaces collapsed; control, bidi and invisible characters refused (as at the API)."""
    try:
        text = " ".join(inputs.clean_text(value).split())
    except PydanticCustomError as exc:
        problem = SIMPLE[exc.type].format(label=label)
        raise DomainError("invalid", f"{problem} / {field}: {exc.message()}", field=field) from None
    if required and not text:
        raise DomainError("invalid", f"{label}不能为空 / {field} is required", field=field)
    if len(text) > max_len:
        raise DomainError(
            "invalid", f"{label}过长 / {field} is longer than {max_len} characters", field=field
        )
    return text


# --- org tree -------------------------------------------------------------------------


class OrgUnit(BaseModel):
    path: str
    name: str
    level: OrgLevel
    parent: str | None
    created_at: datetime
    updated_at: datetime
    updated_by: str


def put_org_unit(
    existing: OrgUnit | None,
    path: str,
    name: str,
    parent: OrgUnit | None,
    actor: str,
    now: datetime,
) -> tuple[OrgUnit, list[OrgUnitUpdated]]:
    """Creates the unit or renames it; a unit below a district needs its parent first."""
    org = OrgPath.parse(path)
    name = clean_text(name, "name", "名称", 60)
    parent_path = org.parent
    if parent_path is not None and parent is None:
        raise DomainError(
            "invalid",
            f"上级单位 {parent_path} 不存在，请先创建 / parent org unit {parent_path} "
            "does not exist; create it first",
            parent=parent_path,
        )
    if existing is not None and existing.name == name:
        return existing, []
    unit = OrgUnit(
        path=path,
        name=name,
        level=org.level,
        parent=parent_path,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        updated_by=actor,
    )
    event = OrgUnitUpdated(
        path=path, name=name, level=org.level, parent=parent_path, updated_by=actor, updated_at=now
    )
    return unit, [event]


def require_community(unit: OrgUnit | None, path: str, field: str) -> OrgUnit:
    """Volunteers, organisations and teams belong to a community that exists."""
    if unit is None:
        raise DomainError(
            "invalid", f"社区 {path} 不存在 / community {path} does not exist", field=field
        )
    if unit.level != "community":
        raise DomainError(
            "invalid",
            f"{path} 是{unit.level}级单位，不是社区 / {path} is a {unit.level}, not a community",
            field=field,
        )
    return unit


def rules_changed(
    district: str, rules: DistrictRules, actor: str, now: datetime
) -> DistrictRulesChanged:
    return DistrictRulesChanged(
        district=district, **rules.model_dump(), changed_by=actor, changed_at=now
    )


# --- volunteers -----------------------------------------------------------------------

SKILL_SEPARATORS = re.compile(r"[、,，;；\s]+")


def normalize_phone(raw: str) -> str:
    """Digits only; a +86/0086 country prefix before a mobile number is dropped."""
    phone = normal_phone(raw)
    if phone is None:
        raise DomainError("invalid", f"手机号无效 / invalid phone number: {raw!r}", field="phone")
    return phone


def split_skills(text: str) -> list[str]:
    """Skills as people type them: separated by 、,，;； or spaces."""
    return [s for s in SKILL_SEPARATORS.split(text) if s]


def normalize_skills(skills: list[str]) -> list[str]:
    """Words of the skills vocabulary (Chinese labels, synonyms) become its slugs; any other
    word is kept as a free tag."""
    out: list[str] = []
    for skill in skills:
        s = clean_text(skill, "skills", "技能", 40, required=False)
        s = (skill_slug(s) or s) if s else s
        if s and s not in out:
            out.append(s)
    if len(out) > 30:
        raise DomainError("invalid", "技能最多 30 项 / at most 30 skills", field="skills")
    return out


def volunteer_id(community_id: str, phone: str) -> str:
    """One volunteer per phone per community: the id is derived from the pair."""
    return derived_id("volunteer", community_id, phone)


class Volunteer(BaseModel):
    id: str
    name: str
    phone: str
    home_community_id: str
    party_org: str | None = None
    skills: list[str] = []
    location: Location | None = None
    pledge_signed: bool
    active: bool = True
    # The keyed hash of the phone (shared.phones.phone_link) the identity service links by.
    phone_link: str | None = None
    registered_by: str
    created_at: datetime
    updated_at: datetime

    def registered_event(self) -> VolunteerRegistered:
        return VolunteerRegistered(**self._event_fields(), registered_at=self.created_at)

    def updated_event(self) -> VolunteerUpdated:
        return VolunteerUpdated(
            **self._event_fields(), registered_at=self.created_at, updated_at=self.updated_at
        )

    def _event_fields(self) -> dict[str, object]:
        # The public stream's view (shared.visibility): never the phone number or the party
        # organisation, the name masked, the home rounded to about 1 km.
        return {
            "volunteer_id": self.id,
            "name": mask_name(self.name),
            "home_community_id": self.home_community_id,
            "party_member": self.party_org is not None,
            "skills": self.skills,
            "location": coarse_location(self.location),
            "active": self.active,
            "identity_link": self.phone_link,
        }


def register_volunteer(
    *,
    name: str,
    phone: str,
    community: OrgUnit | None,
    community_id: str,
    party_org: str | None,
    skills: list[str],
    pledge_signed: bool,
    location: Location | None,
    actor: str,
    now: datetime,
    phone_link_key: str | None = None,
) -> tuple[Volunteer, list[VolunteerRegistered]]:
    """Reporting in (报到): a signed pledge, a community that exists, a valid phone."""
    if not pledge_signed:
        raise DomainError(
            "invalid",
            "须签署服务承诺书 / the service pledge must be signed (pledge_signed: true)",
            field="pledge_signed",
        )
    clean_name = clean_text(name, "name", "姓名", 60)
    clean_phone = normalize_phone(phone)
    require_community(community, community_id, "home_community_id")
    org = clean_text(party_org or "", "party_org", "党组织", 120, required=False) or None
    volunteer = Volunteer(
        id=volunteer_id(community_id, clean_phone),
        name=clean_name,
        phone=clean_phone,
        home_community_id=community_id,
        party_org=org,
        skills=normalize_skills(skills),
        location=location,
        pledge_signed=True,
        active=True,
        phone_link=phone_link(phone_link_key, clean_phone) if phone_link_key else None,
        registered_by=actor,
        created_at=now,
        updated_at=now,
    )
    return volunteer, [volunteer.registered_event()]


def update_volunteer(
    volunteer: Volunteer,
    now: datetime,
    *,
    name: str | None = None,
    party_org: str | None = None,
    skills: list[str] | None = None,
    location: Location | None = None,
    active: bool | None = None,
) -> tuple[Volunteer, list[VolunteerUpdated]]:
    """Profile changes and (de)activation. Phone and community identify the report-in."""
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = clean_text(name, "name", "姓名", 60)
    if party_org is not None:
        changes["party_org"] = clean_text(party_org, "party_org", "党组织", 120, False) or None
    if skills is not None:
        changes["skills"] = normalize_skills(skills)
    if location is not None:
        changes["location"] = location
    if active is not None:
        changes["active"] = active
    changed = {k: v for k, v in changes.items() if getattr(volunteer, k) != v}
    if not changed:
        return volunteer, []
    updated = volunteer.model_copy(update={**changed, "updated_at": now})
    return updated, [updated.updated_event()]


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


# --- teams ----------------------------------------------------------------------------


class Team(BaseModel):
    id: str
    community_id: str
    name: str
    service_type: TeamServiceType
    leader_id: str
    member_ids: list[str]
    formed_by: str
    created_at: datetime
    updated_at: datetime


def require_member_candidate(
    team_community: str, volunteer: Volunteer | None, vid: str
) -> Volunteer:
    if volunteer is None:
        raise DomainError(
            "invalid", f"志愿者 {vid} 不存在 / volunteer {vid} not found", field="volunteer_id"
        )
    if not volunteer.active:
        raise DomainError(
            "invalid", f"志愿者 {vid} 已停用 / volunteer {vid} is deactivated", field="volunteer_id"
        )
    if volunteer.home_community_id != team_community:
        raise DomainError(
            "invalid",
            f"志愿者属于 {volunteer.home_community_id}，不是本队所在社区 {team_community} / "
            "the volunteer belongs to another community",
            field="volunteer_id",
            volunteer_community=volunteer.home_community_id,
            team_community=team_community,
        )
    return volunteer


def form_team(
    *,
    name: str,
    service_type: TeamServiceType,
    community: OrgUnit | None,
    community_id: str,
    leader: Volunteer | None,
    leader_id: str,
    actor: str,
    now: datetime,
) -> tuple[Team, list[TeamFormed]]:
    """A volunteer service team (志愿服务队) of one community; its leader is its first member."""
    clean_name = clean_text(name, "name", "队名", 60)
    require_community(community, community_id, "community_id")
    require_member_candidate(community_id, leader, leader_id)
    team = Team(
        id=derived_id("team", community_id, clean_name),
        community_id=community_id,
        name=clean_name,
        service_type=service_type,
        leader_id=leader_id,
        member_ids=[leader_id],
        formed_by=actor,
        created_at=now,
        updated_at=now,
    )
    event = TeamFormed(
        team_id=team.id,
        community_id=community_id,
        name=team.name,
        service_type=service_type,
        leader_id=leader_id,
        member_ids=team.member_ids,
        formed_at=now,
    )
    return team, [event]


# A team's members are held in its aggregate (each join rewrites the list): bounded, and
# as many as one team claim may list (needs: `member_ids` of a claim, at most 500).
MAX_TEAM_MEMBERS = 500


def join_team(
    team: Team, volunteer: Volunteer | None, volunteer_id: str, now: datetime
) -> tuple[Team, list[TeamMemberJoined]]:
    """Members come from the team's community; joining twice changes nothing; a team holds
    at most MAX_TEAM_MEMBERS."""
    require_member_candidate(team.community_id, volunteer, volunteer_id)
    if volunteer_id in team.member_ids:
        return team, []
    if len(team.member_ids) >= MAX_TEAM_MEMBERS:
        raise DomainError(
            "conflict",
            f"服务队已满 {MAX_TEAM_MEMBERS} 人，请另组一队 / the team is full "
            f"({MAX_TEAM_MEMBERS} members): form another one",
            team_id=team.id,
        )
    joined = team.model_copy(
        update={"member_ids": [*team.member_ids, volunteer_id], "updated_at": now}
    )
    event = TeamMemberJoined(
        team_id=team.id, community_id=team.community_id, volunteer_id=volunteer_id, joined_at=now
    )
    return joined, [event]


def change_leader(
    team: Team, volunteer_id: str, now: datetime
) -> tuple[Team, list[TeamLeaderChanged]]:
    """The new leader must already be a member of the team."""
    if volunteer_id not in team.member_ids:
        raise DomainError(
            "conflict",
            f"志愿者 {volunteer_id} 不是本队队员 / volunteer {volunteer_id} is not a member "
            "of this team; add them first",
            volunteer_id=volunteer_id,
        )
    if volunteer_id == team.leader_id:
        return team, []
    changed = team.model_copy(update={"leader_id": volunteer_id, "updated_at": now})
    event = TeamLeaderChanged(
        team_id=team.id,
        community_id=team.community_id,
        leader_id=volunteer_id,
        previous_leader_id=team.leader_id,
        changed_at=now,
    )
    return changed, [event]
