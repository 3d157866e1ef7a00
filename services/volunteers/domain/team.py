"""Teams: forming one, joining, changing the leader. No I/O."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from services.volunteers.domain.org_unit import OrgUnit, clean_text, derived_id, require_community
from services.volunteers.domain.volunteer import Volunteer
from shared.errors import DomainError
from shared.events.volunteers import TeamFormed, TeamLeaderChanged, TeamMemberJoined

TeamServiceType = Literal[
    "dispute_mediation",
    "security_patrol",
    "policy_outreach",
    "culture_leisure",
    "medical",
    "legal_aid",
    "elderly_care",
]


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
