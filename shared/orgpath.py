"""Org paths: the dotted slugs that name the org tree's units (docs/contract.md, "Identity and
scope"): district `zhongshan`, street `zhongshan.hongyan`, community
`zhongshan.hongyan.dongfeng`, grid `zhongshan.hongyan.dongfeng.g3`. As a scope a path covers
itself and everything below it. The one place for these rules (the dashboard's JavaScript
repeats `covers`)."""

from __future__ import annotations

import re
from typing import Any, get_args

from pydantic import GetCoreSchemaHandler
from pydantic_core import core_schema

from shared.errors import DomainError
from shared.events.volunteers import OrgLevel as Level

LEVELS: tuple[Level, ...] = get_args(Level)
COMMUNITY_DEPTH = 3
SEGMENT = r"[a-z0-9][a-z0-9_-]{0,39}"
PATTERN = rf"^{SEGMENT}(\.{SEGMENT}){{0,{len(LEVELS) - 1}}}$"
MAX_LENGTH = 200
_VALID = re.compile(PATTERN)
INVALID_MESSAGE = (
    "组织路径无效 / invalid org path: 1 to 4 dotted slugs of a-z, 0-9, '-' or '_' "
    "(e.g. zhongshan.hongyan.dongfeng)"
)


class OrgPath(str):
    """A path of the org tree; `OrgPath(text)` trusts `text`, `OrgPath.parse` checks it.
    As a pydantic field type it is validated like `parse` (a 422 naming the field)."""

    __slots__ = ()

    @classmethod
    def parse(cls, text: str, field: str = "path") -> OrgPath:
        """The path, or DomainError("invalid") naming `field`."""
        if not cls.is_valid(text):
            raise DomainError("invalid", INVALID_MESSAGE, field=field)
        return cls(text)

    @staticmethod
    def is_valid(text: str) -> bool:
        return len(text) <= MAX_LENGTH and _VALID.match(text) is not None

    @property
    def depth(self) -> int:
        return self.count(".") + 1

    @property
    def level(self) -> Level:
        """district, street, community; grid for anything deeper."""
        return LEVELS[min(self.depth, len(LEVELS)) - 1]

    @property
    def parent(self) -> OrgPath | None:
        head, _, _ = self.rpartition(".")
        return OrgPath(head) if head else None

    def ancestors(self) -> list[OrgPath]:
        """`a.b.c` → [`a`, `a.b`, `a.b.c`]: every scope that covers the path, itself last."""
        parts = self.split(".")
        return [OrgPath(".".join(parts[: i + 1])) for i in range(len(parts))]

    def upto(self, depth: int) -> OrgPath:
        """The ancestor at `depth` (the path itself when it is no deeper)."""
        return OrgPath(".".join(self.split(".")[:depth]))

    def covers(self, path: str) -> bool:
        """This path as a scope covers `path`: the same unit or one below it."""
        return path == self or path.startswith(self + ".")

    def mongo_filter(self, field: str) -> dict[str, Any]:
        """The MongoDB filter for documents whose `field` this scope covers."""
        return {field: {"$regex": f"^{re.escape(self)}(\\.|$)"}}

    @classmethod
    def __get_pydantic_core_schema__(
        cls, _source: Any, _handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(pattern=PATTERN, max_length=MAX_LENGTH),
            serialization=core_schema.plain_serializer_function_ser_schema(str),
        )
