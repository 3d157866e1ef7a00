"""Phone numbers: one normal form and the keyed link (the mask is shared.privacy's).

The link is an HMAC-SHA256 of the normalised phone under TONGXIN_PHONE_LINK_KEY: the
volunteers service puts it on its volunteer events, the identity service computes it for
a phone that signs in, and a reader of the stream without the key learns no number
(a plain hash of an 11-digit number is reversed by trying them all; a keyed one is not).
"""

from __future__ import annotations

import hashlib
import hmac
import re

# The forms a phone number may be written in (also the documented pattern of every phone
# input): a mobile number, with or without +86/0086, or another number of 7 to 15 digits
# (a landline from 0, or one in international form); digits grouped by spaces or hyphens.
_GAP = "[ -]?"
MOBILE_PATTERN = f"(?:(?:[+]|00)86{_GAP})?1[3-9](?:{_GAP}[0-9]){{9}}"
OTHER_PATTERN = f"(?:[+][0-9]|[02-9])(?:{_GAP}[0-9]){{6,14}}"
PHONE_PATTERN = f"^(?:{MOBILE_PATTERN}|{OTHER_PATTERN})$"
PHONE_MAX_LENGTH = 32
_MOBILE = re.compile(MOBILE_PATTERN)
_PHONE = re.compile(PHONE_PATTERN)


def normal_phone(raw: str) -> str | None:
    """Digits only (a leading + kept), a +86/0086 prefix of a mobile number dropped; None
    when it is no phone number (does not match PHONE_PATTERN)."""
    if len(raw) > PHONE_MAX_LENGTH or not _PHONE.fullmatch(raw):
        return None
    digits = raw.replace(" ", "").replace("-", "")
    return digits[-11:] if _MOBILE.fullmatch(raw) else digits


def phone_link(key: str, phone: str) -> str:
    """The keyed hash of a normalised phone that travels instead of the number."""
    return hmac.new(key.encode(), phone.encode(), hashlib.sha256).hexdigest()
