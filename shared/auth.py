"""JWT bearer auth per docs/contract.md: HS256 tokens carrying sub, role and scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

import jwt
from fastapi import Depends, Request

from shared.http import ApiError
from shared.orgpath import OrgPath
from shared.settings import Settings

Role = Literal[
    "resident",
    "volunteer",
    "community_admin",
    "street_admin",
    "district_admin",
    "operator",
    "service",
]
ROLES: tuple[str, ...] = get_args(Role)
ADMIN_ROLES = frozenset({"community_admin", "street_admin", "district_admin"})


def in_scope(path: str, scope: str) -> bool:
    """A scope covers itself and everything below it (the rule is `OrgPath.covers`)."""
    return OrgPath(scope).covers(path)


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    scope: str

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    @property
    def is_service(self) -> bool:
        return self.role == "service"

    def covers(self, path: str) -> bool:
        return in_scope(path, self.scope)

    def administers(self, path: str) -> bool:
        """May act as an admin on `path` (the service role acts everywhere in its scope)."""
        return (self.is_admin or self.is_service) and self.covers(path)

    def reads(self, path: str) -> bool:
        return (self.is_admin or self.role in ("operator", "service")) and self.covers(path)


def mint_token(
    settings: Settings, role: str, scope: str, sub: str, ttl: timedelta = timedelta(hours=12)
) -> str:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    now = datetime.now(UTC)
    claims = {"sub": sub, "role": role, "scope": scope, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, settings.secret, algorithm=settings.jwt_algorithm)


def decode_token(settings: Settings, token: str) -> Principal:
    try:
        claims = jwt.decode(
            token,
            settings.secret,
            algorithms=[settings.jwt_algorithm],
            options={"require": ["sub", "role", "scope", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token expired / 令牌已过期") from None
    except jwt.PyJWTError as exc:
        raise ApiError(401, f"invalid token / 令牌无效: {exc}") from None
    role, scope, sub = claims["role"], claims["scope"], claims["sub"]
    if role not in ROLES or not isinstance(scope, str) or not scope or not isinstance(sub, str):
        raise ApiError(401, "invalid token claims / 令牌声明无效")
    return Principal(sub=sub, role=role, scope=scope)


async def current_principal(request: Request) -> Principal:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "missing bearer token / 缺少令牌")
    settings: Settings = request.app.state.settings
    return decode_token(settings, token.strip())


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> object:
    """A dependency refusing every role but these (403)."""
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise ApiError(403, f"role {principal.role} may not do this / 无权限")
        return principal

    return Depends(check)
