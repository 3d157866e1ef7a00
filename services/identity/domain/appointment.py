"""Appointments: an admin appointing a person to an office of an org unit. No I/O."""

from __future__ import annotations

from datetime import datetime

from services.identity.domain.person import Appointment
from services.identity.domain.policy import may_appoint, require_appointer
from services.identity.domain.sign_in import derived_id
from shared.auth import Principal
from shared.errors import DomainError
from shared.events.identity import AppointmentEnded, AppointmentMade
from shared.visibility import mask_name

# --- appointments ----------------------------------------------------------------------


def appointment_id(person_id: str, role: str, scope: str) -> str:
    """From the person id, never the phone: the id travels on the identity stream."""
    return derived_id("appt", person_id, role, scope)


# The org levels each office sits at.
OFFICE_LEVELS = {
    "grid_worker": ("community", "grid"),
    "community_admin": ("community",),
    "street_admin": ("street",),
    "district_admin": ("district",),
    "operator": ("district", "street"),
}


def require_office_level(role: str, scope: str, level: str | None) -> None:
    """The scope is a unit the platform knows, of a level the office sits at."""
    if level is None:
        raise DomainError(
            "not_found",
            f"组织 {scope} 不存在 / unknown org unit {scope}",
            names_field=True,
            field="scope",
        )
    if level not in OFFICE_LEVELS[role]:
        raise DomainError(
            "invalid",
            f"{role} 须任命在{'/'.join(OFFICE_LEVELS[role])}级 / a {role} is appointed to a "
            f"{' or '.join(OFFICE_LEVELS[role])}, not a {level}",
            field="scope",
        )


def appoint(
    existing: Appointment | None,
    *,
    person_id: str,
    phone: str,
    name: str,
    role: str,
    scope: str,
    actor: Principal,
    now: datetime,
) -> tuple[Appointment, list[AppointmentMade]]:
    require_appointer(actor, role, scope)
    clean_name = name.strip()
    if not clean_name or len(clean_name) > 60:
        raise DomainError(
            "invalid",
            "姓名须为 1 至 60 个字 / name must be 1-60 characters",
            names_field=True,
            field="name",
        )
    if existing is not None and existing.active:
        return existing, []
    appointment = Appointment(
        id=appointment_id(person_id, role, scope),
        person_id=person_id,
        phone=phone,
        name=clean_name,
        role=role,
        scope=scope,
        appointed_by=actor.sub,
        appointed_at=now,
    )
    event = AppointmentMade(
        appointment_id=appointment.id,
        person_id=person_id,
        role=role,
        scope=scope,
        name=mask_name(clean_name),  # the public stream's view (shared.visibility)
        appointed_by=actor.sub,
        appointed_at=now,
    )
    return appointment, [event]


def end_appointment(
    appointment: Appointment, actor: Principal, now: datetime
) -> tuple[Appointment, list[AppointmentEnded]]:
    if not may_appoint(actor, appointment.role, appointment.scope):
        raise DomainError("forbidden", "您无权免去此任命 / you may not end this appointment")
    if not appointment.active:
        return appointment, []
    ended = appointment.model_copy(update={"active": False, "ended_by": actor.sub, "ended_at": now})
    event = AppointmentEnded(
        appointment_id=ended.id,
        person_id=ended.person_id,
        role=ended.role,
        scope=ended.scope,
        ended_by=actor.sub,
        ended_at=now,
    )
    return ended, [event]
