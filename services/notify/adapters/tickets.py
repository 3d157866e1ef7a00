"""Stream tickets: a browser's EventSource cannot send an Authorization header, and a
long-lived token in a URL lands in access logs. So the client trades its token for a ticket
(POST /v1/inbox/stream-ticket) that opens only the inbox stream, for TICKET_TTL.

Tickets are signed with a key this process draws at start and never shares: no service holds
a key that could sign an access token, and the replica that issues a ticket serves its stream
(the stream is in-process, see the README)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import jwt

from shared.auth import Principal
from shared.http import ApiError
from shared.settings import Settings

TICKET_KEY = secrets.token_bytes(32)

TICKET_TTL = timedelta(seconds=60)
USE = "inbox_stream"


def mint_ticket(settings: Settings, principal: Principal) -> str:
    now = datetime.now(UTC)
    claims = {
        "sub": principal.sub,
        "role": principal.role,
        "scope": principal.scope,
        "use": USE,
        "iat": now,
        "exp": now + TICKET_TTL,
    }
    return jwt.encode(claims, TICKET_KEY, algorithm="HS256")


def principal_of_ticket(settings: Settings, ticket: str) -> Principal:
    """The caller a ticket stands for; 401 for an expired ticket or any other token."""
    try:
        claims = jwt.decode(ticket, TICKET_KEY, algorithms=["HS256"], options={"require": ["exp"]})
    except jwt.InvalidTokenError:
        claims = {}
    if claims.get("use") != USE or not str(claims.get("sub", "")).strip():
        raise ApiError(401, "需要收件箱流票据 / a stream ticket is required in the URL")
    return Principal(sub=claims["sub"], role=claims["role"], scope=claims["scope"])
