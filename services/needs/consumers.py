"""Which streams feed the needs service's handlers (the handlers: `handlers.EVENT_HANDLERS`)."""

from __future__ import annotations

# The needs service learns who and where (org units, volunteers, teams, organisations)
# from the volunteers stream, into its own read model: it never calls another service.
STREAMS: list[str] = ["volunteers"]
