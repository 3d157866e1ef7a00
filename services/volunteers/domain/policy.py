"""Who may do what in the volunteers service: every permission rule, in one place.

Objects outside the caller's scope answer 404 (their existence is not disclosed); inside
the scope, an action the caller's role may not take answers 403.
"""

from __future__ import annotations

from services.volunteers.domain.team import Team
from services.volunteers.domain.volunteer import Volunteer
from shared.auth import Principal
from shared.http import ApiError, not_found
from shared.orgpath import OrgPath


def forbidden(message: str) -> ApiError:
    return ApiError(403, message)


def may_write_org(actor: Principal, path: str) -> bool:
    """An admin above the unit; a district itself by a service token covering it or by the
    district admin whose scope is exactly that district."""
    if OrgPath(path).level == "district":
        return (actor.is_service and actor.covers(path)) or (
            actor.role == "district_admin" and actor.scope == path
        )
    return actor.administers(path) and actor.scope != path


def require_org_writer(actor: Principal, path: str) -> None:
    if not may_write_org(actor, path):
        raise forbidden(
            f"只有上级管理员可以创建或更名 {path} / only an admin above {path} may create "
            "or rename it"
        )


def require_rules_writer(actor: Principal, district: str) -> None:
    """A district's rules: its own district admin, or a service token covering it."""
    if OrgPath(district).level != "district" or not may_write_org(actor, district):
        raise forbidden(
            f"只有 {district} 的区级管理员可以设置本区规则 / only the admin of district "
            f"{district} may set its rules"
        )


def require_visible(actor: Principal, community: str, what: str, ident: str) -> None:
    if not actor.covers(community):
        raise not_found(what, ident)


def require_admin(actor: Principal, community: str, what: str, ident: str) -> None:
    """An admin (or service) of the community; 404 when it is outside the caller's scope."""
    require_visible(actor, community, what, ident)
    if not actor.administers(community):
        raise forbidden(f"需要 {community} 的管理员 / an admin of {community} must do this")


def require_community_admin(actor: Principal, community: str) -> None:
    """Reporting volunteers in, registering organisations and forming teams: the
    community's committee (an admin in scope) or a service relaying a verified form."""
    if not actor.administers(community):
        raise forbidden(f"需要 {community} 的管理员 / an admin of {community} must do this")


def require_importer(actor: Principal) -> None:
    if not (actor.is_admin or actor.is_service):
        raise forbidden("只有管理员可以批量导入 / only admins may import volunteers")


def is_self(actor: Principal, volunteer_id: str) -> bool:
    return actor.role == "volunteer" and actor.sub == volunteer_id


def require_volunteer_reader(actor: Principal, volunteer: Volunteer) -> None:
    if not (is_self(actor, volunteer.id) or actor.covers(volunteer.home_community_id)):
        raise not_found("volunteer", volunteer.id)


def require_volunteer_editor(actor: Principal, volunteer: Volunteer) -> None:
    """The volunteer themself or an admin of their community."""
    if is_self(actor, volunteer.id):
        return
    require_admin(actor, volunteer.home_community_id, "volunteer", volunteer.id)


def require_scope(actor: Principal, scope: str) -> None:
    if not actor.covers(scope):
        raise forbidden(f"{scope} 不在您的范围内 / {scope} is outside your scope ({actor.scope})")


def require_team_manager(actor: Principal, team: Team) -> None:
    """An admin of the team's community, or its leader."""
    if is_self(actor, team.leader_id):
        return
    require_admin(actor, team.community_id, "team", team.id)


def require_passbook_reader(actor: Principal, volunteer_id: str, community: str) -> None:
    """The volunteer themself, or admins and operators whose scope covers them."""
    if not (is_self(actor, volunteer_id) or actor.reads(community)):
        raise not_found("passbook", volunteer_id)


def require_certificate_requester(actor: Principal, volunteer_id: str, issuer: str) -> None:
    """The volunteer themself, or an admin of the issuing community."""
    if not (is_self(actor, volunteer_id) or actor.administers(issuer)):
        raise forbidden(
            "只有志愿者本人或出具社区的管理员可以申请证明 / only the volunteer or an admin "
            "of the issuing community may request a certificate"
        )


def require_certificate_reader(actor: Principal, volunteer_id: str, issuer: str) -> None:
    if not (is_self(actor, volunteer_id) or actor.reads(issuer)):
        raise not_found("certificate", volunteer_id)


def require_reserver(
    actor: Principal, volunteer_id: str, item_community: str, home_community: str
) -> None:
    """A volunteer of the item's community reserves for themself (or its admin for them)."""
    if home_community != item_community:
        raise forbidden(
            "只能在本社区的爱心超市预订 / reserve at your own community's love supermarket"
        )
    if not (is_self(actor, volunteer_id) or actor.administers(item_community)):
        raise forbidden("只有志愿者本人可以预订 / only the volunteer may reserve")


def require_redeemer(actor: Principal, volunteer_id: str, community: str) -> None:
    """An admin of the volunteer's community, at the counter: a volunteer reserves from the
    catalogue of the love supermarket instead of naming an item and a price themself."""
    require_passbook_reader(actor, volunteer_id, community)
    if not actor.administers(community):
        raise forbidden(
            "只有社区管理员可以登记兑换；志愿者请在爱心超市预订 / only a community admin "
            "records a redemption; volunteers reserve at the love supermarket"
        )
