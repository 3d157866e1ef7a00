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

PHONE_SEPARATORS = re.compile(r"[\s\-()（）]")


def normal_phone(raw: str) -> str | None:
    """Digits only, a +86/0086 country prefix before a mobile number dropped; None when
    it is no phone number."""
    phone = PHONE_SEPARATORS.sub("", raw)
    for prefix in ("+86", "0086"):
        if phone.startswith(prefix) and len(phone) == len(prefix) + 11:
            phone = phone[len(prefix) :]
    if not re.fullmatch(r"\+?[0-9]{7,15}", phone):
        return None
    if len(phone) == 11 and phone.startswith("1") and not re.fullmatch(r"1[3-9][0-9]{9}", phone):
        return None
    return phone


def phone_link(key: str, phone: str) -> str:
    """The keyed hash of a normalised phone that travels instead of the number."""
    return hmac.new(key.encode(), phone.encode(), hashlib.sha256).hexdigest()
