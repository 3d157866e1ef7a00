"""Who sees which personal field, in one place (PIPL: show only what the purpose needs).

Whole phones, names, exact locations and party organisations are for admins in scope (and
service accounts acting in it) and for the person themself; everyone else reads phones and
names masked (`138****5678`, `王**`), locations rounded to 0.01° (about 1 km) and no party
organisation. Events on the public streams are read by anyone authorised for a stream, so
their payloads carry the masked form (`mask_name`, `coarse_location`, `public_behalf`):
never an exact place, a whole name or a whole phone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, get_args

from shared.auth import Principal
from shared.events.needs import Location, OnBehalfOf
from shared.privacy import mask_phone

# 0.01° of latitude is 1.1 km; of longitude at 40° N, 0.85 km.
COARSE_DECIMALS = 2
# How far a rounded point may lie from the true one: half a cell's diagonal at the equator
# (0.005° each way, 111.2 km a degree): 0.79 km. Two rounded points (a need's and a
# volunteer's) are at most twice that further apart or nearer than the true ones.
COARSE_ERROR_KM = 0.5 * 10**-COARSE_DECIMALS * 111.195 * 2**0.5


def mask_name(name: str) -> str:
    """`王阿姨` → `王**`: the first character, a star for each other."""
    return name[:1] + "*" * (len(name) - 1) if len(name) > 1 else name[:1] + "*"


def coarse_location(location: Location | None) -> Location | None:
    """The point rounded to about 1 km: enough to match by distance, not to find a door."""
    if location is None:
        return None
    return Location(
        lat=round(location.lat, COARSE_DECIMALS), lon=round(location.lon, COARSE_DECIMALS)
    )


def public_behalf(resident: OnBehalfOf | None) -> OnBehalfOf | None:
    """The resident a grid worker acted for, as a public stream carries them: name and phone
    masked."""
    if resident is None:
        return None
    return OnBehalfOf(name=mask_name(resident.name), phone=mask_phone(resident.phone))


# Every response type that a reader may be shown, by the service that answers it.
Record = Literal[
    "volunteer",
    "need",
    "subscription",
    "pending_confirmation",
    "inbox_item",
    "preferences",
    "me",
    "appointment",
    "stats",
    "ranking",
    "list_rows",
    "certificate",
    "certificate_check",
]
# How a reader stands to a record: the person themself (the volunteer; a need's requester; the
# recipient of a subscription, an inbox, preferences; the signed-in person), an admin whose
# scope covers it (service accounts acting in scope too), a volunteer or team leader holding
# an active claim on the need, anyone else who may read it (an operator reading figures).
Reader = Literal["self", "admin_in_scope", "claimer", "other"]
# whole; masked (`王**`, `138****5678`, `w***@example.com`); coarse (a place rounded to 0.01°);
# hidden (null).
Shown = Literal["whole", "masked", "coarse", "hidden"]

_VOLUNTEER_WHOLE: dict[str, Shown] = {
    "name": "whole",
    "phone": "whole",
    "location": "whole",
    "party_org": "whole",
}
_REQUESTER_WHOLE: dict[str, Shown] = {
    "requester.name": "whole",
    "requester.phone": "whole",
    "location": "whole",
    "on_behalf_of.name": "whole",
}
_LIST_ROWS: dict[str, Shown] = {"items.name": "masked", "items.party_member": "whole"}
# The one table of who sees which personal field of which response (docs/security.md shows it;
# tests/integration/test_field_visibility.py checks real responses against it). A reader left
# out of a response's rows is not served it (403 or 404); a response with no personal field
# has an empty row for each reader it is served to.
FIELD_MATRIX: dict[Record, dict[Reader, dict[str, Shown]]] = {
    "volunteer": {
        "self": _VOLUNTEER_WHOLE,
        "admin_in_scope": _VOLUNTEER_WHOLE,
        "other": {"name": "masked", "phone": "masked", "location": "coarse", "party_org": "hidden"},
    },
    "need": {
        "self": _REQUESTER_WHOLE,
        "admin_in_scope": _REQUESTER_WHOLE,
        "claimer": _REQUESTER_WHOLE,
        "other": {
            "requester.name": "masked",
            "requester.phone": "masked",
            "location": "coarse",
            "on_behalf_of.name": "masked",
        },
    },
    # notify: a subscription's email, phone or webhook; shown to its recipient and to admins
    # of its scope only (others do not see it listed).
    "subscription": {"self": {"target": "whole"}, "admin_in_scope": {"target": "whole"}},
    # the 202 answer of subscribing one's own contact: the code went to it, the answer masks it
    "pending_confirmation": {"self": {"target": "masked"}},
    # an inbox item's body names no person (the need's title, community, category, and the
    # distance between 0.01° cells); the recipient's own, or an admin's of their community
    "inbox_item": {"self": {"body": "whole"}, "admin_in_scope": {"body": "whole"}},
    "preferences": {"self": {"quiet_hours": "whole", "timezone": "whole"}},
    # identity: one's own phone is masked even to oneself (it is what one signed in with)
    "me": {"self": {"person.phone": "masked"}},
    "appointment": {"admin_in_scope": {"phone": "whole", "name": "whole"}},
    # metrics: counts and org-unit names, no personal field; operators in scope read them too
    "stats": {"admin_in_scope": {}, "other": {}},
    "ranking": {"admin_in_scope": {}, "other": {}},
    # the rows behind a count (/v1/lists/{figure}): metrics holds no whole name at all
    "list_rows": {"admin_in_scope": _LIST_ROWS, "other": _LIST_ROWS},
    # volunteers: a certificate of service, for the volunteer and the issuing community's
    # admins; its public check (no sign-in: anyone holding the serial) masks the name
    "certificate": {
        "self": {"volunteer_name": "whole", "masked_phone": "masked"},
        "admin_in_scope": {"volunteer_name": "whole", "masked_phone": "masked"},
    },
    "certificate_check": {"other": {"volunteer": "masked"}},
}
_MASKS: dict[str, Callable[[str], str]] = {"name": mask_name, "phone": mask_phone}


@dataclass(frozen=True)
class FieldView:
    """What one reader sees of one record's personal fields (a row of FIELD_MATRIX)."""

    record: Record
    reader: Reader

    def shown(self, field: str) -> Shown:
        return FIELD_MATRIX[self.record][self.reader][field]

    def contact(self, field: str, channel: str, value: str) -> str:
        """A notification target (email, phone, webhook): whole or masked (`mask_target`)."""
        how = self.shown(field)
        if how == "whole":
            return value
        if how == "masked":
            return mask_target(channel, value)
        raise ValueError(f"{field}: a contact is whole or masked, not {how}")

    def text(self, field: str, value: str) -> str:
        """A name or a phone: whole or masked."""
        how = self.shown(field)
        if how == "whole":
            return value
        if how == "masked":
            return _MASKS[field.rsplit(".", 1)[-1]](value)
        raise ValueError(f"{field}: a text is whole or masked, not {how}")

    def optional(self, field: str, value: str | None) -> str | None:
        """A field the reader may not see at all (party organisation): whole or hidden."""
        how = self.shown(field)
        if how in ("whole", "hidden"):
            return value if how == "whole" else None
        return None if value is None else self.text(field, value)

    def place(self, field: str, value: Location | None) -> Location | None:
        how = self.shown(field)
        if how == "whole":
            return value
        if how == "coarse":
            return coarse_location(value)
        if how == "hidden":
            return None
        raise ValueError(f"{field}: a place is whole, coarse or hidden, not {how}")


def reader_of(
    reader: Principal, community_id: str, person_id: str | None, *, claimer: bool = False
) -> Reader:
    """How `reader` stands to a record of `community_id` about `person_id` (their user or
    volunteer id); `claimer`: they hold an active claim on it (needs)."""
    if person_id is not None and reader.sub == person_id:
        return "self"
    if reader.administers(community_id):
        return "admin_in_scope"
    return "claimer" if claimer else "other"


def view_for(
    reader: Principal,
    record: Record,
    community_id: str,
    person_id: str | None,
    *,
    claimer: bool = False,
) -> FieldView:
    return FieldView(record, reader_of(reader, community_id, person_id, claimer=claimer))


def render_matrix() -> str:
    """FIELD_MATRIX as the Markdown table docs/security.md carries."""
    lines = ["| response | field | " + " | ".join(get_args(Reader)) + " |"]
    lines.append("|" + " --- |" * (2 + len(get_args(Reader))))
    for record, rows in FIELD_MATRIX.items():
        fields = next(iter(rows.values()))
        for field in fields:
            cells = [rows[r][field] if r in rows else "—" for r in get_args(Reader)]
            lines.append(f"| {record} | `{field}` | " + " | ".join(cells) + " |")
        if not fields:
            cells = ["served" if r in rows else "—" for r in get_args(Reader)]
            lines.append(f"| {record} | (no personal field) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def mask_email(address: str) -> str:
    """`wang.ayi@example.com` → `w***@example.com`."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}***@{domain}" if domain else mask_name(address)


def mask_target(channel: str, target: str) -> str:
    """A notification target as records outside the delivery itself (dead letters, logs)
    keep it: emails and phones masked, a webhook by its origin only."""
    if channel == "email":
        return mask_email(target)
    if channel == "sms":
        return mask_phone(target)
    if channel == "webhook":
        scheme, _, rest = target.partition("://")
        host = rest.split("/", 1)[0].rsplit("@", 1)[-1]
        return f"{scheme}://{host}"
    return target
