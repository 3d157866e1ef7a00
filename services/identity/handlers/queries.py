"""What clients of the identity service read: who they are, communities, appointments."""

from __future__ import annotations

from typing import Any

from services.identity.domain import policy
from services.identity.domain.person import Appointment
from services.identity.handlers.commands import IdentityDeps, grants_for
from shared.auth import Principal
from shared.errors import DomainError, not_found
from shared.visibility import FieldView

# /v1/me: the signed-in person themself (shared.visibility.FIELD_MATRIX).
ME_VIEW = FieldView("me", "self")


async def me(deps: IdentityDeps, principal: Principal) -> dict[str, Any]:
    active = {"role": principal.role, "scope": principal.scope, "sub": principal.sub}
    session = await deps.repo.session(principal.sid) if principal.sid else None
    if session is None:
        return {"person": None, "active": active, "roles": [active]}
    if session.get("revoked_at") is not None:
        raise DomainError("unauthenticated", "会话已结束 / the session has ended")
    person = await deps.repo.person(session["person_id"])
    if person is None:
        raise not_found("person", session["person_id"])
    grants = await grants_for(deps, person)
    return {
        "person": {
            "id": person.id,
            "phone": ME_VIEW.text("person.phone", person.phone),
            "community_id": person.community_id,
        },
        "active": active,
        "roles": [g.model_dump() for g in grants],
    }


# --- communities ------------------------------------------------------------------------


async def search_communities(deps: IdentityDeps, q: str, limit: int) -> list[dict[str, Any]]:
    units = await deps.repo.search_org_units(q.strip(), ("community", "grid"), limit)
    ancestors = {
        ".".join(u["_id"].split(".")[:i]) for u in units for i in range(1, u["_id"].count(".") + 1)
    }
    found = await deps.repo.org_units_by_ids(sorted(ancestors))
    out = []
    for u in units:
        parts = u["_id"].split(".")
        trail = [found.get(".".join(parts[:i])) for i in range(1, len(parts))]
        names = [t["name"] if t else parts[i] for i, t in enumerate(trail)]
        by_level = {t["level"]: t["name"] for t in trail if t}
        out.append(
            {
                "path": u["_id"],
                "name": u["name"],
                "level": u["level"],
                "parent": u.get("parent"),
                "street": by_level.get("street"),
                "district": by_level.get("district"),
                "full_name": " / ".join([*names, u["name"]]),
            }
        )
    return out


async def list_appointments(
    deps: IdentityDeps, actor: Principal, scope: str, include_ended: bool
) -> list[Appointment]:
    if not policy.may_read_appointments(actor, scope):
        raise DomainError("forbidden", f"{scope} 不在您的管理范围 / {scope} is outside your scope")
    return await deps.repo.appointments_in(scope, include_ended)
