"""The input types every service's request models are built from (long because every
refusal rule of the audit lives here, once, for all five services).

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
from datetime import date, datetime, time
from importlib.resources import files
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
)
from pydantic.json_schema import JsonSchemaValue, WithJsonSchema
from pydantic_core import CoreSchema, PydanticCustomError

from shared.events.needs import Location
from shared.phones import PHONE_MAX_LENGTH, PHONE_PATTERN

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


def _json_integer(value: object) -> object:
    """A JSON integer: `2.0` is one (as JSON Schema counts), `"2"`, `true` and `2.5` are not
    (the strict int after this refuses them)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# A whole number as JSON Schema's `integer` means it, after its own constraints (which then
# show in the documented schema): `Annotated[int, Field(strict=True, ge=1), JSON_INTEGER]`.
JSON_INTEGER = BeforeValidator(_json_integer)
Count = Annotated[int, Field(strict=True, ge=0, le=10_000_000), JSON_INTEGER]
Points = Annotated[int, Field(strict=True, gt=0, le=1_000_000), JSON_INTEGER]
Latitude = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
Longitude = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]


class GeoPoint(Location):
    """A point as a client sends it: strict finite numbers in range (`false` is not 0)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    lat: Latitude
    lon: Longitude

    def to_location(self) -> Location:
        return Location(lat=self.lat, lon=self.lon)


# Days and moments as JSON carries them (RFC 3339), in the years DAY_MIN to DAY_MAX: the
# documented pattern is also what the server reads (pydantic alone would take more, such as
# a number of seconds), and the range is the one of the day as written.
_YEAR = "(?:20[0-9]{2}|2100)"
_DATE = f"{_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
DAY_PATTERN = f"^{_DATE}$"
MOMENT_PATTERN = (
    f"^{_DATE}T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\\.[0-9]{{1,6}})?"
    "(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_DAY = re.compile(DAY_PATTERN)
_MOMENT = re.compile(MOMENT_PATTERN)


def _as_written(pattern: re.Pattern[str], kind: type, error: str, example: str) -> Any:
    def check(value: object) -> object:
        if isinstance(value, kind):
            return value  # made in code, not read from a request
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise PydanticCustomError(
                error,
                "must be like {example}, between {lo} and {hi}",
                {"lo": str(DAY_MIN), "hi": str(DAY_MAX), "example": example},
            )
        return value

    return check


def _day_in_range(value: date) -> date:
    if not DAY_MIN <= value <= DAY_MAX:
        raise PydanticCustomError(
            "day_range", "must be between {lo} and {hi}", {"lo": str(DAY_MIN), "hi": str(DAY_MAX)}
        )
    return value


def _time_in_range(value: datetime) -> datetime:
    _day_in_range(value.date())
    return value


Day = Annotated[
    date,
    BeforeValidator(_as_written(_DAY, date, "day_format", "2026-12-01")),
    AfterValidator(_day_in_range),
    _Pattern(DAY_PATTERN),
]
Moment = Annotated[
    AwareDatetime,
    BeforeValidator(_as_written(_MOMENT, datetime, "moment_format", "2031-01-01T10:00:00+08:00")),
    AfterValidator(_time_in_range),
    _Pattern(MOMENT_PATTERN),
]

# Not a space by any regex dialect's `\\s` (Python's, JavaScript's and Rust's differ) nor a
# control character: for ids and URLs, where `[^\\s]` would mean three different things.
_BREAKS = (
    "\\x00-\\x20\\x7f-\\xa0\\u1680\\u180e\\u2000-\\u200b\\u2028\\u2029\\u202f\\u205f\\u3000\\ufeff"
)
UNBROKEN = f"[^{_BREAKS}]"
# An id a client names (of a volunteer, team, organisation): one unbroken word.
Ident = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=f"^{UNBROKEN}+$")]
# An email address: one @ between two unbroken parts.
EMAIL_PATTERN = f"^[^@{_BREAKS}]+@[^@{_BREAKS}]+$"
# An http(s) URL a server may call: a host name or an IPv4 address (no IPv6 literal), an
# optional port, no user name or password, then any printable ASCII.
_PORT = "(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
HTTP_URL_PATTERN = f"^https?://{_LABEL}(?:\\.{_LABEL})*\\.?(?::{_PORT})?(?:[/?#][!-~]*)?$"
# A time of day on a clock (quiet hours): HH:MM or HH:MM:SS, no zone (the recipient's).
CLOCK_TIME_PATTERN = "^(?:[01][0-9]|2[0-3]):[0-5][0-9](?::[0-5][0-9])?$"
_CLOCK_TIME = re.compile(CLOCK_TIME_PATTERN)


def _clock_time(value: object) -> object:
    if isinstance(value, time):
        return value  # made in code, not read from a request
    if not isinstance(value, str) or not _CLOCK_TIME.fullmatch(value):
        raise PydanticCustomError("clock_time", "must be a time of day like 22:00")
    return value


ClockTime = Annotated[
    time,
    BeforeValidator(_clock_time),
    WithJsonSchema({"type": "string", "pattern": CLOCK_TIME_PATTERN, "examples": ["22:00"]}),
]
Bool = Annotated[bool, Field(strict=True)]  # true or false, never "true" or 1

# The IANA time zones, from the pinned tzdata package (the same list on every machine).
TIME_ZONES: tuple[str, ...] = tuple(files("tzdata").joinpath("zones").read_text().split())
_TIME_ZONES = frozenset(TIME_ZONES)


def _known_zone(value: str) -> str:
    if value not in _TIME_ZONES:
        raise PydanticCustomError("time_zone", "unknown time zone {zone}", {"zone": value})
    return value


TimeZone = Annotated[
    str,
    AfterValidator(_known_zone),
    WithJsonSchema({"type": "string", "enum": list(TIME_ZONES), "examples": ["Asia/Shanghai"]}),
]
# A phone number as a person writes it (shared.phones says which forms).
Phone = Annotated[
    str,
    StringConstraints(max_length=PHONE_MAX_LENGTH, pattern=PHONE_PATTERN),
    Field(examples=["13812345678"]),
]
# A link a client gives (evidence photos and the like).
WebUrl = Annotated[str, StringConstraints(max_length=500, pattern=f"^https?://{UNBROKEN}+$")]


def one_form_of(forms: dict[str, tuple[list[str], list[str]]]) -> dict[str, Any]:
    """The JSON Schema of a body that takes exactly one of several forms, each a list of
    fields it requires (not null) and a list it allows; every other field of the forms is
    null or absent. For `model_config = ConfigDict(json_schema_extra=...)` beside the
    model's own validator, which says which form was meant."""
    names = {n for required, allowed in forms.values() for n in (*required, *allowed)}
    return {
        "oneOf": [
            {
                "title": title,
                "required": required,
                "properties": {
                    **{n: {"not": {"type": "null"}} for n in required},
                    **{n: {"type": "null"} for n in sorted(names - {*required, *allowed})},
                },
            }
            for title, (required, allowed) in forms.items()
        ]
    }


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
