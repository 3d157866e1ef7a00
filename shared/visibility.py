"""Who sees which personal field, in one place (PIPL: show only what the purpose needs).

Whole phones, names, exact locations and party organisations are for admins in scope (and
service accounts acting in it) and for the person themself; everyone else reads phones and
names masked (`138****5678`, `王**`), locations rounded to 0.01° (about 1 km) and no party
organisation. Events on the public streams are read by anyone authorised for a stream, so
their payloads carry the masked form (`public_name`, `coarse_location`).
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.auth import Principal
from shared.events.needs import Location
from shared.privacy import mask_phone

# 0.01° of latitude is 1.1 km; of longitude at 40° N, 0.85 km.
COARSE_DECIMALS = 2


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


@dataclass(frozen=True)
class FieldView:
    """What one reader sees of one person's record."""

    whole: bool

    def phone(self, phone: str) -> str:
        return phone if self.whole else mask_phone(phone)

    def name(self, name: str) -> str:
        return name if self.whole else mask_name(name)

    def location(self, location: Location | None) -> Location | None:
        return location if self.whole else coarse_location(location)

    def party_org(self, party_org: str | None) -> str | None:
        return party_org if self.whole else None


WHOLE = FieldView(whole=True)
MASKED = FieldView(whole=False)


def view_for(
    reader: Principal, community_id: str, person_id: str | None, *, also: bool = False
) -> FieldView:
    """The view `reader` has of a person of `community_id` (`person_id`: their user or
    volunteer id). `also`: a further reason the purpose needs the whole record (e.g. the
    volunteer holding an active claim on a resident's need)."""
    is_self = person_id is not None and reader.sub == person_id
    return WHOLE if also or is_self or reader.administers(community_id) else MASKED


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
