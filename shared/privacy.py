"""Personal data shown to those outside an admin's scope (PIPL): masked."""

from __future__ import annotations


def mask_phone(phone: str) -> str:
    """`13812345678` → `138****5678`; anything shorter than 8 characters → `****`."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 8 else "****"
