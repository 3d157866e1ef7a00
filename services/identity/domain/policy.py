"""Who may do what in the identity service: appointing and reading appointments."""

from __future__ import annotations

from services.identity.domain.person import OFFICES, RANK
from services.identity.domain.sign_in import DomainError
from shared.auth import Principal, in_scope


def may_appoint(actor: Principal, role: str, scope: str) -> bool:
    """An admin above the office, inside their scope; a service (a district's first admin)
    anywhere in its scope."""
    if not in_scope(scope, actor.scope):
        return False
    if actor.is_service:
        return True
    return actor.is_admin and RANK.get(actor.role, 0) > RANK[role]


def require_appointer(actor: Principal, role: str, scope: str) -> None:
    if role not in OFFICES:
        raise DomainError(422, f"无法任命角色 {role} / role {role} is not an office", field="role")
    if not may_appoint(actor, role, scope):
        raise DomainError(403, f"您无权在 {scope} 任命 {role} / you may not appoint this here")


def may_read_appointments(actor: Principal, scope: str) -> bool:
    return in_scope(scope, actor.scope) and (actor.is_admin or actor.is_service)
