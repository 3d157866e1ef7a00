"""Which streams feed the volunteers service's handlers (the handlers:
`handlers.EVENT_HANDLERS`)."""

from __future__ import annotations

STREAMS: list[str] = ["needs"]
