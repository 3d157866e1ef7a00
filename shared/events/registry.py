"""Every event type Tongxin publishes, and JSON Schema export of their payloads."""

from __future__ import annotations

from typing import Any

from shared.events.envelope import CloudEvent, EventPayload, schema_uri
from shared.events.identity import IDENTITY_EVENTS
from shared.events.needs import NEEDS_EVENTS
from shared.events.notify import NOTIFY_EVENTS
from shared.events.volunteers import VOLUNTEERS_EVENTS

EVENT_TYPES: dict[str, type[EventPayload]] = {
    cls.type: cls for cls in [*NEEDS_EVENTS, *VOLUNTEERS_EVENTS, *NOTIFY_EVENTS, *IDENTITY_EVENTS]
}


class UnknownEventType(LookupError):
    pass


def payload_class(event_type: str) -> type[EventPayload]:
    try:
        return EVENT_TYPES[event_type]
    except KeyError:
        raise UnknownEventType(event_type) from None


def payload_of(event: CloudEvent) -> EventPayload:
    """The typed payload of an event (validated; unknown fields ignored)."""
    return payload_class(event.type).model_validate(event.data)


def payload_schema(cls: type[EventPayload]) -> dict[str, Any]:
    schema = cls.model_json_schema(mode="serialization")
    schema["$id"] = schema_uri(cls.type, cls.version)
    schema["title"] = cls.type
    schema["description"] = (cls.__doc__ or cls.type).strip()
    return schema


def all_schemas() -> dict[str, dict[str, Any]]:
    return {event_type: payload_schema(cls) for event_type, cls in sorted(EVENT_TYPES.items())}
