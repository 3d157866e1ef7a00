"""Stream tickets: a browser's EventSource cannot send an Authorization header, and a
long-lived token in a URL lands in access logs. So the client trades its token for a ticket
(POST /v1/inbox/stream-ticket) that opens only the inbox stream, for TICKET_TTL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt

from shared.auth import Principal, decode_token
from shared.http import ApiError
from shared.settings import Settings

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
    return jwt.encode(claims, settings.secret, algorithm=settings.jwt_algorithm)


def principal_of_ticket(settings: Settings, ticket: str) -> Principal:
    """The caller a ticket stands for; 401 for an expired ticket or any other token."""
    principal = decode_token(settings, ticket)
    claims = jwt.decode(ticket, options={"verify_signature": False})  # verified just above
    if claims.get("use") != USE:
        raise ApiError(401, "需要收件箱流票据 / a stream ticket is required in the URL")
    return principal
