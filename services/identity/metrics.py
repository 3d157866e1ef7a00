"""Prometheus series of the identity service (registered once, at import)."""

from __future__ import annotations

from prometheus_client import Counter

CODES_SENT = Counter("tongxin_identity_codes_sent_total", "Sign-in codes sent by text message.")
CODES_REFUSED = Counter(
    "tongxin_identity_code_refusals_total",
    "Sign-in code requests or tries refused, by reason (throttled, wrong, expired, locked).",
    ["reason"],
)
SIGN_INS = Counter(
    "tongxin_identity_sign_ins_total", "Sign-ins by SMS code, by the role chosen.", ["role"]
)
TOKENS_ISSUED = Counter(
    "tongxin_identity_tokens_issued_total", "Access tokens issued, by role.", ["role"]
)
