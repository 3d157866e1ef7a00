"""Bearer tokens: every service verifies them with the identity provider's JWKS (#14).

Asymmetric only: a token names its key (`kid`), the key comes from TONGXIN_JWKS_URL
(fetched, cached, fetched again for a kid not yet seen), and its algorithm is the key's
own: an HS256 token "signed" with a public key, `alg: none`, or any algorithm other than
the key's is refused. Issuer and audience must match TONGXIN_JWT_ISSUER and
TONGXIN_JWT_AUDIENCE, and `sub` must name someone (never empty or blank). Every failure
is 401. Only the identity service and the dev CLI sign (`mint_token`, with a key file of
`shared.signing`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal, get_args

import httpx
import jwt
from fastapi import Depends, Request

from shared.http import ApiError
from shared.orgpath import OrgPath
from shared.settings import Settings
from shared.signing import ALGORITHM, current_key

Role = Literal[
    "resident",
    "volunteer",
    "community_admin",
    "street_admin",
    "district_admin",
    "operator",
    "grid_worker",
    "service",
]
ROLES: tuple[str, ...] = get_args(Role)
ADMIN_ROLES = frozenset({"community_admin", "street_admin", "district_admin"})
ACCESS_TTL = timedelta(minutes=15)
# Asymmetric algorithms a JWKS key may carry; never HS* (a public key is no secret).
ASYMMETRIC = frozenset({"EdDSA", "RS256", "RS384", "RS512", "ES256", "ES384", "PS256"})
JWKS_MAX_AGE_S = 300.0
JWKS_REFETCH_MIN_S = 1.0  # an unknown kid fetches again at most this often
JWKS_TIMEOUT_S = 5.0


def in_scope(path: str, scope: str) -> bool:
    """A scope covers itself and everything below it (the rule is `OrgPath.covers`)."""
    return OrgPath(scope).covers(path)


@dataclass(frozen=True)
class Principal:
    sub: str
    role: Role
    scope: str
    sid: str | None = field(default=None, compare=False)  # the identity session, if any

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
    settings: Settings,
    role: str,
    scope: str,
    sub: str,
    ttl: timedelta = ACCESS_TTL,
    sid: str | None = None,
) -> str:
    """An access token signed with the newest key of TONGXIN_JWT_KEYS_DIR (raises
    `shared.signing.NoSigningKey` where there is none)."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; one of {', '.join(ROLES)}")
    if not sub.strip() or not scope.strip():
        raise ValueError("sub and scope must not be empty")
    key = current_key(settings)
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": sub,
        "role": role,
        "scope": scope,
        "sid": sid or f"cli-{uuid.uuid4().hex[:12]}",
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + ttl,
    }
    return jwt.encode(claims, key.private, algorithm=ALGORITHM, headers={"kid": key.kid})


class KeySet:
    """The JWKS of one URL: fetched on first need, after JWKS_MAX_AGE_S, and for a new kid."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = -1e9
        self._lock = asyncio.Lock()

    async def key(self, kid: str) -> jwt.PyJWK | None:
        age = time.monotonic() - self._fetched_at
        if age > JWKS_MAX_AGE_S or (kid not in self._keys and age > JWKS_REFETCH_MIN_S):
            async with self._lock:
                age = time.monotonic() - self._fetched_at
                if age > JWKS_MAX_AGE_S or (kid not in self._keys and age > JWKS_REFETCH_MIN_S):
                    await self._fetch()
        return self._keys.get(kid)

    async def _fetch(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=JWKS_TIMEOUT_S) as client:
                resp = await client.get(self.url)
                resp.raise_for_status()
                document = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            if not self._keys:
                raise ApiError(
                    503, f"identity provider unreachable / 身份服务不可用: {exc}"[:300]
                ) from None
            return  # keep the keys we have; try again after JWKS_REFETCH_MIN_S
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []) if isinstance(document, dict) else []:
            if not isinstance(entry, dict) or entry.get("kty") == "oct" or not entry.get("kid"):
                continue
            try:
                jwk = jwt.PyJWK(entry)
            except jwt.PyJWTError:
                continue  # a key type we cannot use
            if jwk.algorithm_name in ASYMMETRIC:
                keys[str(entry["kid"])] = jwk
        self._keys = keys
        self._fetched_at = time.monotonic()


def _unauthorized(why: str) -> ApiError:
    return ApiError(401, f"invalid token / 令牌无效: {why}")


def decode_token(settings: Settings, token: str, key: jwt.PyJWK) -> Principal:
    """Verifies `token` with `key` (its algorithm only), issuer, audience and claims."""
    try:
        claims = jwt.decode(
            token,
            key.key,
            algorithms=[key.algorithm_name],
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["sub", "role", "scope", "exp", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError:
        raise ApiError(401, "token expired / 令牌已过期") from None
    except jwt.PyJWTError as exc:
        raise _unauthorized(str(exc)) from None
    role, scope, sub, sid = claims["role"], claims["scope"], claims["sub"], claims.get("sid")
    if role not in ROLES or not isinstance(scope, str) or not scope.strip():
        raise ApiError(401, "invalid token claims / 令牌声明无效")
    if not isinstance(sub, str) or not sub.strip() or sub != sub.strip():
        raise ApiError(401, "token names no one (sub) / 令牌未指明身份")
    return Principal(sub=sub, role=role, scope=scope, sid=sid if isinstance(sid, str) else None)


class TokenVerifier:
    """What a service checks a bearer token with: the JWKS, issuer and audience of settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.keys = KeySet(settings.jwks)

    async def principal(self, token: str) -> Principal:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _unauthorized(str(exc)) from None
        alg, kid = header.get("alg"), header.get("kid")
        if alg not in ASYMMETRIC:
            raise _unauthorized(f"algorithm {alg!r} not accepted")
        if not isinstance(kid, str) or not kid:
            raise _unauthorized("no key id (kid)")
        key = await self.keys.key(kid)
        if key is None:
            raise _unauthorized(f"unknown key id {kid!r}")
        if key.algorithm_name != alg:
            raise _unauthorized(f"algorithm {alg!r} is not the key's")
        return decode_token(self.settings, token, key)


def token_verifier(request: Request) -> TokenVerifier:
    """The app's verifier, made on first use (its JWKS cache lives as long as the app)."""
    state = request.app.state
    verifier: TokenVerifier | None = getattr(state, "token_verifier", None)
    if verifier is None:
        verifier = TokenVerifier(state.settings)
        state.token_verifier = verifier
    return verifier


def bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "missing bearer token / 缺少令牌")
    return token.strip()


async def current_principal(request: Request) -> Principal:
    return await token_verifier(request).principal(bearer(request))


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> object:
    """A dependency refusing every role but these (403)."""
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise ApiError(403, f"role {principal.role} may not do this / 无权限")
        return principal

    return Depends(check)
