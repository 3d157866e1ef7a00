"""The CloudEvents 1.0 envelope (structured JSON mode) every Tongxin message travels in."""

from __future__ import annotations

import uuid
from abc import abstractmethod
from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

CONTENT_TYPE = "application/cloudevents+json"


class EventPayload(BaseModel):
    """Base of every event's `data`. Consumers ignore fields they do not know."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: ClassVar[str]
    stream: ClassVar[str]  # "needs", "volunteers", "notify" or "identity"
    source: ClassVar[str]
    version: ClassVar[int] = 1

    @abstractmethod
    def subject(self) -> str:
        """The aggregate id: the Kafka key and the CloudEvent subject."""

    @abstractmethod
    def community(self) -> str:
        """The org path the event belongs to (the `community` extension)."""


def schema_uri(event_type: str, version: int = 1) -> str:
    return f"urn:tongxin:events:{event_type}:v{version}"


def utcnow() -> datetime:
    return datetime.now(UTC)


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str
    time: datetime
    datacontenttype: Literal["application/json"] = "application/json"
    dataschema: str
    community: str
    correlationid: str
    data: dict[str, Any]

    @classmethod
    def wrap(
        cls,
        payload: EventPayload,
        *,
        correlation_id: str | None = None,
        event_id: str | None = None,
        time: datetime | None = None,
    ) -> CloudEvent:
        return cls(
            id=event_id or str(uuid.uuid4()),
            source=payload.source,
            type=payload.type,
            subject=payload.subject(),
            time=time or utcnow(),
            dataschema=schema_uri(payload.type, payload.version),
            community=payload.community(),
            correlationid=correlation_id or str(uuid.uuid4()),
            data=payload.model_dump(mode="json"),
        )

    def to_bytes(self) -> bytes:
        return self.model_dump_json().encode()

    @classmethod
    def from_bytes(cls, raw: bytes) -> CloudEvent:
        return cls.model_validate_json(raw)
