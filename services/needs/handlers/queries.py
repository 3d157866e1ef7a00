"""What clients of the needs service read: a need, a page of needs, its history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from services.needs.domain import attendance
from services.needs.domain.need import Need
from services.needs.domain.policy import Action, authorize, scope_filter, visible_filter
from services.needs.handlers.commands import NeedsDeps, _code_key, _visible_need, need_not_found
from shared.auth import Principal
from shared.http import ApiError
from shared.mongo.client import Document


async def check_in_code(deps: NeedsDeps, p: Principal, need_id: str) -> tuple[str, datetime]:
    """The need's rotating code, for the requester's (or a grid worker's, an admin's)
    phone to show the volunteers."""
    need = await _visible_need(deps, p, need_id)
    authorize(p, need, Action.SHOW_CODE)
    return attendance.current_code(_code_key(deps), need_id, deps.now())


async def get_need(deps: NeedsDeps, p: Principal, need_id: str) -> tuple[Need, int]:
    need, version = await deps.repo.get(need_id)
    if need is None:
        raise need_not_found(need_id)
    authorize(p, need, Action.READ)
    return need, version


@dataclass(frozen=True)
class NeedFilters:
    scope: str | None = None
    status: str | None = None
    category: str | None = None
    kind: str | None = None
    claims_expired: bool = False  # admins: the needs with claims that expired


async def list_needs(
    deps: NeedsDeps,
    p: Principal,
    filters: NeedFilters,
    after: tuple[datetime, str] | None,
    limit: int,
) -> tuple[list[tuple[Need, int]], tuple[datetime, str] | None]:
    """One page, newest first, of the needs `p` may see; and the position after it."""
    clauses: list[dict[str, Any]] = [visible_filter(p)]
    if filters.scope:
        clauses.append(scope_filter(filters.scope))
    if filters.claims_expired:
        if not (p.is_admin or p.is_service):
            raise ApiError(403, "仅管理员可查看逾期认领 / expired claims are for admins")
        clauses.append({"has_expired_claims": True})
    for name in ("status", "category", "kind"):
        value = getattr(filters, name)
        if value is not None:
            clauses.append({name: value})
    rows = await deps.repo.page({"$and": clauses}, after, limit + 1)
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = rows[-1][0]
    return rows, (last.created_at, last.id)


async def need_history(deps: NeedsDeps, p: Principal, need_id: str) -> list[Document]:
    """The need's audit trail: who changed what, when and why (admins in scope)."""
    need, version = await deps.repo.get(need_id)
    if need is None:
        raise need_not_found(need_id)
    authorize(p, need, Action.HISTORY)
    return await deps.repo.history(need_id, version)
