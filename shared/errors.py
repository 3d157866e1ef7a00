"""The one error a domain rule raises: a neutral kind (mapped to an HTTP status once, in
shared/http.py), a message Chinese first (`中文 / English`), and details (`field`, …)."""

from __future__ import annotations

from typing import Any, Literal

ErrorKind = Literal[
    "invalid",  # bad input: which field, why
    "not_found",  # also what lies outside the caller's scope
    "forbidden",  # not allowed for this caller
    "conflict",  # the state does not allow it, no slot left, duplicate
    "busy",  # too many concurrent changes: retry
    "unauthenticated",  # who is asking is not known (no, a wrong or a spent credential)
    "throttled",  # too many requests: details carry retry_after_s
]


class DomainError(Exception):
    """A rule refused the command; nothing was changed."""

    def __init__(
        self, kind: ErrorKind, message: str, /, *, names_field: bool = False, **details: object
    ) -> None:
        """`names_field`: the message already says which field (it is not prefixed with
        `field:` when answered)."""
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.names_field = names_field
        self.details = details


def not_found(what: str, ident: str) -> DomainError:
    return DomainError("not_found", f"{what} {ident} not found / 未找到", id=ident)


def conflict(message: str, **details: Any) -> DomainError:
    return DomainError("conflict", message, **details)
