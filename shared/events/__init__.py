"""Event envelope, typed payloads of every event type, and the registry that maps them."""

from shared.events.envelope import CONTENT_TYPE, CloudEvent, EventPayload, schema_uri
from shared.events.registry import EVENT_TYPES, payload_class, payload_of

__all__ = [
    "CONTENT_TYPE",
    "EVENT_TYPES",
    "CloudEvent",
    "EventPayload",
    "payload_class",
    "payload_of",
    "schema_uri",
]
