"""Who may take a need's slots, decided from what the needs service knows. No I/O.

The facts come from the local read model of the volunteers stream (adapters/read_model.py): the
needs service never calls another service, and refuses claimants it does not know yet.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from services.needs.domain.claim import ClaimRequest
from services.needs.domain.need import Need
from shared.errors import DomainError
from shared.orgpath import OrgPath
from shared.rules import DistrictRules

CLAIMABLE_LEVELS = ("community", "grid")


@dataclass(frozen=True)
class KnownOrgUnit:
    path: str
    name: str
    level: str


@dataclass(frozen=True)
class KnownVolunteer:
    id: str
    home_community_id: str
    active: bool = True


@dataclass(frozen=True)
class KnownTeam:
    id: str
    community_id: str | None
    leader_id: str | None
    member_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class KnownOrganization:
    id: str
    community_id: str


def require_community(unit: KnownOrgUnit | None, community_id: str) -> None:
    """A need names a community (or grid) the platform knows."""
    if unit is None:
        raise DomainError(
            "invalid",
            f"社区 {community_id} 尚未登记 / community {community_id} is not known (yet)",
            field="community_id",
        )
    if unit.level not in CLAIMABLE_LEVELS:
        raise DomainError(
            "invalid",
            f"{community_id} 是{unit.level}级，需求须落到社区或网格 / "
            f"{community_id} is a {unit.level}; a need belongs to a community or grid",
            field="community_id",
        )


def volunteer_claim(
    need: Need, volunteer_id: str, volunteer: KnownVolunteer | None, claim_id: str, by: str
) -> ClaimRequest:
    """A volunteer claims one slot of a need of their home community."""
    if volunteer is None:
        raise DomainError(
            "invalid",
            f"志愿者 {volunteer_id} 尚未报到登记 / volunteer {volunteer_id} is not known yet",
            field="volunteer_id",
        )
    _serves(need, volunteer, volunteer.home_community_id, "志愿者 / volunteer")
    return ClaimRequest(
        claim_id=claim_id,
        claimant_type="volunteer",
        claimed_by=by,
        slots=1,
        volunteer_ids=(volunteer.id,),
    )


def known_team(team_id: str, team: KnownTeam | None) -> KnownTeam:
    """The team, once its formation is known (a member joining alone does not make it)."""
    if team is None or team.community_id is None or team.leader_id is None:
        raise DomainError(
            "invalid",
            f"服务队 {team_id} 尚未登记 / team {team_id} is not known yet",
            field="team_id",
        )
    return team


def team_claim(
    need: Need,
    team: KnownTeam,
    member_ids: Sequence[str],
    members: Sequence[KnownVolunteer | None],
    claim_id: str,
    by: str,
) -> ClaimRequest:
    """A team's leader claims one slot per listed member of the team."""
    assert team.community_id is not None
    if not serves(need, team.community_id):
        raise DomainError(
            "forbidden",
            "服务队不属于该需求所在社区 / the team does not serve this need's community",
        )
    strangers = [m for m in member_ids if m not in team.member_ids]
    if strangers:
        raise DomainError(
            "invalid",
            "所列成员不在该服务队 / listed members are not in the team",
            field="member_ids",
            volunteer_ids=strangers,
        )
    for member_id, member in zip(member_ids, members, strict=True):
        if member is not None and not member.active:
            raise DomainError(
                "conflict", f"志愿者 {member_id} 已停用 / volunteer {member_id} is inactive"
            )
    return ClaimRequest(
        claim_id=claim_id,
        claimant_type="team",
        claimed_by=by,
        slots=len(member_ids),
        volunteer_ids=tuple(member_ids),
        team_id=team.id,
    )


def organization_claim(
    need: Need,
    organization_id: str,
    organization: KnownOrganization | None,
    slots: int,
    claim_id: str,
    by: str,
) -> ClaimRequest:
    """An admin claims slots on behalf of a registered enterprise or social organisation."""
    if organization is None:
        raise DomainError(
            "invalid",
            f"组织 {organization_id} 尚未登记 / organisation {organization_id} is not known yet",
            field="organization_id",
        )
    return ClaimRequest(
        claim_id=claim_id,
        claimant_type="organization",
        claimed_by=by,
        slots=slots,
        organization_id=organization.id,
    )


def serves(need: Need, home: str) -> bool:
    """Claimants of `home` may claim the need: their own community's, or one opened to
    their street or district (`openness`)."""
    reach = OrgPath(need.open_to or need.community_id)
    return OrgPath(home).covers(need.community_id) or reach.covers(home)


@dataclass(frozen=True)
class SlotHolder:
    """Who a claim counts against: each listed volunteer, and the organisation."""

    kind: Literal["volunteer", "organization"]
    ident: str

    def cap(self, rules: DistrictRules) -> int:
        if self.kind == "volunteer":
            return rules.volunteer_claim_cap
        return rules.organization_claim_cap


def slot_holders(volunteer_ids: Sequence[str], organization_id: str | None) -> list[SlotHolder]:
    holders = [SlotHolder("volunteer", v) for v in dict.fromkeys(volunteer_ids)]
    if organization_id:
        holders.append(SlotHolder("organization", organization_id))
    return holders


def cap_reached(holder: SlotHolder, cap: int) -> DomainError:
    """A volunteer or organisation holds at most `cap` active claims (district rule)."""
    who = f"志愿者 {holder.ident} " if holder.kind == "volunteer" else "该组织"
    return DomainError(
        "conflict",
        f"{who}已有 {cap} 个进行中的认领，达到本区上限 {cap} / "
        f"{cap} active claims already: the district's cap is {cap}",
        active_claims=cap,
        cap=cap,
    )


def still_holds(need: Need | None, claim_id: str, holder: SlotHolder) -> bool:
    """The claim a cap slot was taken for is active on its need, for this holder."""
    claim = need.find_claim(claim_id) if need is not None else None
    if claim is None or claim.status != "active":
        return False
    if holder.kind == "volunteer":
        return holder.ident in claim.volunteer_ids
    return claim.organization_id == holder.ident


def _serves(need: Need, volunteer: KnownVolunteer, home: str, who: str) -> None:
    if not volunteer.active:
        raise DomainError("conflict", f"{who} {volunteer.id} 已停用 / is inactive")
    if not serves(need, home):
        raise DomainError(
            "forbidden",
            "只能认领本社区（或向本街道、本区开放）的需求 / a volunteer claims needs of their "
            "home community, or needs opened to their street or district",
            home_community_id=home,
        )
