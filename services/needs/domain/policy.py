"""Who may see and do what with needs (docs/contract.md, "Identity and scope"): one place.

A need the caller may not see answers 404, as if it did not exist; a need they see but
may not act on answers 403.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import get_args

from services.needs.domain.listing import ListedNeed, of_person, opened_to, within
from services.needs.domain.need import Claim, Need, NeedStatus
from shared.auth import Principal, in_scope
from shared.errors import DomainError
from shared.orgpath import OrgPath

# Statuses residents and volunteers see in their community; the rest only their own.
PUBLIC_STATUSES = ("open", "claimed", "completed", "confirmed")


class Action(StrEnum):
    READ = "read"
    REVIEW = "review"
    CANCEL = "cancel"
    CLAIM_AS_VOLUNTEER = "claim_as_volunteer"
    CLAIM_FOR_TEAM = "claim_for_team"
    CLAIM_FOR_ORGANIZATION = "claim_for_organization"
    RELEASE = "release"
    COMPLETE = "complete"
    CONFIRM = "confirm"
    VERIFY = "verify"
    SHOW_CODE = "show_code"
    CHECK_IN = "check_in"
    DISPUTE = "dispute"
    HISTORY = "history"
    ATTACH_PHOTO = "attach_photo"


# The grid worker (网格员) acts for residents of their grid or community; the role comes
# with the identity work, and is accepted here by name.
GRID_WORKER_ROLES: frozenset[str] = frozenset({"grid_worker"})


def is_grid_worker(p: Principal, need: Need) -> bool:
    return p.role in GRID_WORKER_ROLES and p.covers(need.community_id)


def _is_requester(p: Principal, need: Need) -> bool:
    return p.sub == need.requester_id


def _holds(p: Principal, claim: Claim, team_leader: str | None) -> bool:
    """The principal speaks for this claim: its volunteer, its claimer, its team's leader."""
    if claim.claimant_type == "volunteer":
        return p.sub in claim.volunteer_ids or p.sub == claim.claimed_by
    if claim.claimant_type == "team":
        return p.sub in (claim.claimed_by, team_leader)
    return p.sub == claim.claimed_by


def holds_active_claim(p: Principal, need: Need, team_leaders: Mapping[str, str]) -> bool:
    return any(_holds(p, c, team_leaders.get(c.team_id or "")) for c in need.active_claims())


@dataclass(frozen=True)
class Facts:
    """What a rule may need besides the caller and the need."""

    claim: Claim | None = None  # the claim acted on
    team_leaders: Mapping[str, str] = field(default_factory=dict)  # team id → current leader
    volunteer_id: str | None = None  # the volunteer a claim is made for


Rule = Callable[[Principal, Need, Facts], bool]


def _requester_or_admin(p: Principal, need: Need, f: Facts) -> bool:
    return _is_requester(p, need) or p.administers(need.community_id)


def _admin(p: Principal, need: Need, f: Facts) -> bool:
    return p.administers(need.community_id)


RULES: dict[Action, Rule] = {
    Action.READ: lambda p, need, f: True,
    Action.REVIEW: _admin,
    Action.CANCEL: _requester_or_admin,
    Action.CLAIM_AS_VOLUNTEER: lambda p, need, f: p.role == "volunteer" and f.volunteer_id == p.sub,
    Action.CLAIM_FOR_TEAM: lambda p, need, f: (
        p.role == "volunteer" and p.sub in f.team_leaders.values()
    ),
    Action.CLAIM_FOR_ORGANIZATION: _admin,
    Action.RELEASE: lambda p, need, f: (
        _admin(p, need, f)
        or (f.claim is not None and _holds(p, f.claim, f.team_leaders.get(f.claim.team_id or "")))
    ),
    Action.COMPLETE: lambda p, need, f: (
        _admin(p, need, f) or holds_active_claim(p, need, f.team_leaders)
    ),
    Action.CONFIRM: _requester_or_admin,
    Action.VERIFY: lambda p, need, f: _admin(p, need, f) or is_grid_worker(p, need),
    Action.DISPUTE: _requester_or_admin,
    Action.SHOW_CODE: lambda p, need, f: _requester_or_admin(p, need, f) or is_grid_worker(p, need),
    Action.CHECK_IN: lambda p, need, f: p.role == "volunteer" and f.volunteer_id == p.sub,
    Action.HISTORY: _admin,
    Action.ATTACH_PHOTO: _requester_or_admin,
}


def can_see(p: Principal, need: Need) -> bool:
    """Kept in step with `may_list`, its form for lists."""
    if p.reads(need.community_id) or is_grid_worker(p, need):
        return True
    if _is_requester(p, need) or p.sub in need.participants:
        return True
    return p.role in ("resident", "volunteer") and (
        (p.covers(need.community_id) or in_scope(p.scope, need.open_to or need.community_id))
        and need.status in PUBLIC_STATUSES
    )


def authorize(p: Principal, need: Need, action: Action, facts: Facts | None = None) -> None:
    if not can_see(p, need):
        raise DomainError("not_found", f"需求 {need.id} 不存在 / need not found", id=need.id)
    if not RULES[action](p, need, facts or Facts()):
        raise DomainError(
            "forbidden",
            f"无权执行此操作 / {p.role} {p.sub} may not {action.value} this need",
            action=action.value,
        )


def authorize_post(p: Principal, community_id: str, requester_id: str | None) -> None:
    """Residents post for their own community; admins (and services) inside their scope."""
    if p.role == "grid_worker":
        # For a resident who is not online, in the worker's grid or community.
        if not (p.covers(community_id) or in_scope(p.scope, community_id)):
            raise DomainError("forbidden", "社区不在您的网格范围 / community outside your grid")
        if requester_id not in (None, p.sub):
            raise DomainError(
                "forbidden", "网格员以本人账号代为发布 / grid workers post as themselves"
            )
        return
    if p.role == "resident":
        if not p.covers(community_id):
            raise DomainError(
                "forbidden", "居民只能为本社区发布需求 / residents post for their own community"
            )
        if requester_id not in (None, p.sub):
            raise DomainError(
                "forbidden", "居民只能为自己发布需求 / residents post their own needs only"
            )
        return
    if not (p.is_admin or p.is_service):
        raise DomainError("forbidden", f"{p.role} 不能发布需求 / a {p.role} may not post needs")
    if not p.administers(community_id):
        raise DomainError("forbidden", "社区不在您的管辖范围 / community outside your scope")


def sees_phone(p: Principal, need: Need) -> bool:
    """The requester's phone: admins in scope and active claimers (for a team, the leader
    who claimed) only."""
    return p.administers(need.community_id) or holds_active_claim(p, need, {})


def sees_photo(p: Principal, need: Need) -> bool:
    """A wish's photo (it may show a face or a home): whoever sees the requester's phone,
    and the requester (for a grid worker's post, the grid worker)."""
    return _is_requester(p, need) or sees_phone(p, need)


def _narrower(a: str, b: str) -> str | None:
    """The scope covered by both `a` and `b` (one of them), or None when they are apart."""
    if OrgPath(a).covers(b):
        return b
    return a if OrgPath(b).covers(a) else None


def list_buckets(p: Principal, scope: str | None, status: str | None) -> list[Hashable]:
    """The buckets of the needs list index (services/needs/domain/listing.py) that hold every need
    `p` may list inside `scope` with `status`; `may_list` then picks from them."""
    statuses = [status] if status is not None else list(get_args(NeedStatus))
    buckets: list[Hashable] = []
    if p.is_admin or p.role in ("operator", "service"):
        reach = _narrower(p.scope, scope) if scope else p.scope
        return [] if reach is None else [within(reach, st) for st in statuses]
    buckets.append(of_person(p.sub))
    if p.role in ("resident", "volunteer"):
        public = [st for st in statuses if st in PUBLIC_STATUSES]
        own = _narrower(p.scope, scope) if scope else p.scope
        if own is not None:
            buckets.extend(within(own, st) for st in public)
        buckets.extend(opened_to(path, st) for path in _reach(p) for st in public)
    return buckets


def _reach(p: Principal) -> list[str]:
    """The street and district above the caller's scope: needs opened to them are theirs too."""
    segments = p.scope.split(".")
    return [".".join(segments[:n]) for n in range(1, len(segments))]


def may_list(p: Principal, need: ListedNeed) -> bool:
    """The needs `p` lists: what `can_see` allows, but a grid worker lists only their own
    (they read any need of their grid by id)."""
    if p.is_admin or p.role in ("operator", "service"):
        return p.covers(need.community_id)
    if p.sub == need.requester_id or p.sub in need.participants:
        return True
    return (
        p.role in ("resident", "volunteer")
        and need.status in PUBLIC_STATUSES
        and (p.covers(need.community_id) or need.open_to in _reach(p))
    )
