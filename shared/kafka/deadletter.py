"""The headers of a dead-lettered message (`<topic>.dlq`): why it failed, after how many
attempts, and where it came from (`tongxin dlq` reads them; docs/events lists them)."""

from __future__ import annotations

from shared.kafka.producer import Headers

MAX_ERROR_CHARS = 4000


def dead_letter_headers(error: str, error_type: str, attempts: int, **origin: str) -> Headers:
    """`origin` names become headers `tongxin-<name>` (underscores as dashes), e.g.
    original_topic="tongxin.needs.v1" → `tongxin-original-topic`."""
    headers: Headers = [
        ("tongxin-error", error[:MAX_ERROR_CHARS].encode()),
        ("tongxin-error-type", error_type.encode()),
        ("tongxin-attempts", str(attempts).encode()),
    ]
    headers += [(f"tongxin-{k.replace('_', '-')}", v.encode()) for k, v in origin.items()]
    return headers
