"""The input types every service's request models are built from.

Numbers are strict (`"1"` and `true` are not counts) and floats finite; coordinates are in
range; days and times are bounded (no year 9999); names and texts are NFC-normalised and
trimmed, with control, bidi-override and invisible characters refused; cursors and header
values are bounded. Refusals carry an error type the Chinese error messages know
(`shared.messages`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

from shared.events.needs import Location

# The calendar any figure, due date or window may name.
DAY_MIN = date(2000, 1, 1)
DAY_MAX = date(2100, 12, 31)

# Right-to-left and other overrides that make text display other than it reads.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Joiners that emoji and some scripts need (allowed, but not as a whole name).
JOINERS = "\u200c\u200d"
# What a name or text may not contain, as a regular-expression class (also the documented
# pattern): control characters (C0, DEL, C1), the soft hyphen, bidi controls,
# zero-width characters but the joiners, word joiners and invisible operators, the BOM.
_CONTROLS = "\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f"
_REFUSED = (
    "\\x7f-\\x9f\\u00ad\\u061c\\u180e\\u200b\\u200e\\u200f\\u202a-\\u202e\\u2060-\\u206f"
    "\\ufeff\\ufff9-\\ufffb"
)
# Lone surrogates (which JSON can carry and MongoDB cannot store) are refused too; they are
# left out of the documented pattern, which regex engines of other languages cannot read.
_SURROGATES = re.compile("[\\ud800-\\udfff]")
# One line: none of those, no tabs or newlines, and at least one visible character.
NAME_PATTERN = (
    f"^[^{_CONTROLS}\\t\\n\\r{_REFUSED}]*[^\\s{JOINERS}{_CONTROLS}{_REFUSED}]"
    f"[^{_CONTROLS}\\t\\n\\r{_REFUSED}]*$"
)
TEXT_PATTERN = f"^[^{_CONTROLS}{_REFUSED}]*$"
_REFUSED_IN_NAME = re.compile(f"[{_CONTROLS}\\t\\n\\r{_REFUSED}]")
_REFUSED_IN_TEXT = re.compile(f"[{_CONTROLS}{_REFUSED}]")


def _refuse(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def clean_text(value: str, multiline: bool = False) -> str:
    """NFC, trimmed; refuses control, surrogate, bidi and invisible characters, and a text
    that is only invisible characters."""
    value = unicodedata.normalize("NFC", value).strip()
    found = (_REFUSED_IN_TEXT if multiline else _REFUSED_IN_NAME).search(
        value
    ) or _SURROGATES.search(value)
    if found:
        ch = found.group()
        if unicodedata.category(ch) in ("Cc", "Cs"):
            raise _refuse("control_character", "must not contain control characters")
        if ch in BIDI_CONTROLS:
            raise _refuse("bidi_character", "must not contain direction overrides")
        raise _refuse("invisible_character", "must not contain invisible characters")
    if value and all(ch.isspace() or ch in JOINERS for ch in value):
        raise _refuse("blank", "must not be blank")
    return value


@dataclass(frozen=True)
class _Pattern:
    """Documents a pattern in the JSON Schema (the validator above enforces it, with
    messages that say which rule a text broke)."""

    pattern: str

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        out = handler(schema)
        out["pattern"] = self.pattern
        return out


def _one_line(value: str) -> str:
    return clean_text(value)


def _many_lines(value: str) -> str:
    return clean_text(value, multiline=True)


# A name or a one-line label: give max_length at the field.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1),
    AfterValidator(_one_line),
    _Pattern(NAME_PATTERN),
]
# Free text (descriptions, notes, comments): newlines and tabs allowed, may be empty.
Text = Annotated[
    str,
    StringConstraints(strip_whitespace=True),
    AfterValidator(_many_lines),
    _Pattern(TEXT_PATTERN),
]

Count = Annotated[int, Field(strict=True, ge=0, le=10_000_000)]
Points = Annotated[int, Field(strict=True, gt=0, le=1_000_000)]
Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]


class GeoPoint(Location):
    """A point as a client sends it: strict finite numbers in range (`false` is not 0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lat: Latitude
    lon: Longitude

    def to_location(self) -> Location:
        return Location(lat=self.lat, lon=self.lon)


def _day_in_range(value: date) -> date:
    if not DAY_MIN <= value <= DAY_MAX:
        raise PydanticCustomError(
            "day_range", "must be between {lo} and {hi}", {"lo": str(DAY_MIN), "hi": str(DAY_MAX)}
        )
    return value


def _time_in_range(value: datetime) -> datetime:
    _day_in_range(value.astimezone(UTC).date())
    return value


Day = Annotated[date, AfterValidator(_day_in_range)]
Moment = Annotated[AwareDatetime, AfterValidator(_time_in_range)]

# An opaque page cursor this API issued (base64url: give max_length at the parameter), and
# the inbox's sequence number.
Cursor = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_=-]+$")]
SeqCursor = Annotated[str, StringConstraints(max_length=18, pattern=r"^[0-9]+$")]

# A correlation id we copy into logs, events and responses: anything else is replaced.
CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def safe_correlation_id(raw: bytes) -> str | None:
    """The header's value if it is a short id of safe characters, else None."""
    try:
        value = raw.decode("ascii")
    except UnicodeDecodeError:
        return None
    return value if CORRELATION_ID.fullmatch(value) else None


class StrictBody(BaseModel):
    """A request body: unknown fields refused."""

    model_config = ConfigDict(extra="forbid")
