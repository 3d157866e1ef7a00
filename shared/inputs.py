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
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints
from pydantic_core import PydanticCustomError

from shared.events.needs import Location

# The calendar any figure, due date or window may name.
DAY_MIN = date(2000, 1, 1)
DAY_MAX = date(2100, 12, 31)

# Right-to-left and other overrides that make text display other than it reads.
BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
# Joiners that emoji and some scripts need; every other format character is refused.
JOINERS = frozenset("\u200c\u200d")


def _refuse(kind: str, message: str) -> PydanticCustomError:
    return PydanticCustomError(kind, message)


def clean_text(value: str, multiline: bool = False) -> str:
    """NFC, trimmed; refuses control, surrogate, bidi and invisible characters, and a text
    that is only invisible characters."""
    value = unicodedata.normalize("NFC", value).strip()
    for ch in value:
        if multiline and ch in "\n\r\t":
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs"):
            raise _refuse("control_character", "must not contain control characters")
        if ch in BIDI_CONTROLS:
            raise _refuse("bidi_character", "must not contain direction overrides")
        if category == "Cf" and ch not in JOINERS:
            raise _refuse("invisible_character", "must not contain invisible characters")
    if value and all(ch.isspace() or ch in JOINERS for ch in value):
        raise _refuse("blank", "must not be blank")
    return value


def _one_line(value: str) -> str:
    return clean_text(value)


def _many_lines(value: str) -> str:
    return clean_text(value, multiline=True)


# A name or a one-line label: give max_length at the field.
Name = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1), AfterValidator(_one_line)
]
# Free text (descriptions, notes, comments): newlines and tabs allowed, may be empty.
Text = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_many_lines)]

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
