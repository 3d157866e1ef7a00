"""Events the identity service publishes on the identity stream. Never a phone number."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from pydantic import Field

from shared.events.envelope import EventPayload


class IdentityEvent(EventPayload):
    stream: ClassVar[str] = "identity"
    source: ClassVar[str] = "/tongxin/identity"


class AppointmentEvent(IdentityEvent):
    appointment_id: str
    person_id: str
    role: str
    scope: str

    def subject(self) -> str:
        return self.appointment_id

    def community(self) -> str:
        return self.scope


class AppointmentMade(AppointmentEvent):
    """A person was appointed to an office (community secretary, grid worker …) in a scope."""

    type: ClassVar[str] = "org.tongxin.appointment.made"
    name: str = Field(description="masked: the first character, then * (王**)")
    appointed_by: str
    appointed_at: datetime


class AppointmentEnded(AppointmentEvent):
    """An appointment was ended: the person's next token no longer carries the role."""

    type: ClassVar[str] = "org.tongxin.appointment.ended"
    ended_by: str
    ended_at: datetime


IDENTITY_EVENTS: list[type[EventPayload]] = [AppointmentMade, AppointmentEnded]
