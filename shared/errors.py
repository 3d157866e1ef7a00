"""The one error a domain rule raises: a neutral kind (mapped to an HTTP status once, in
shared/http.py), a message Chinese first (`中文 / English`), and details (`field`, …)."""

from __future__ import annotations

from typing import Literal

ErrorKind = Literal[
    "invalid",  # bad input: which field, why
    "not_found",  # also what lies outside the caller's scope
    "forbidden",  # not allowed for this caller
    "conflict",  # the state does not allow it, no slot left, duplicate
    "busy",  # too many concurrent changes: retry
]


class DomainError(Exception):
    """A rule refused the command; nothing was changed."""

    def __init__(self, kind: ErrorKind, message: str, /, **details: object) -> None:
        super().__init__(message)
        self.kind: ErrorKind = kind
        self.message = message
        self.details = details
