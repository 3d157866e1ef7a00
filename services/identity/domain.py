"""Sign-in codes, who holds which role, and appointments: state and rules. No I/O.

Who you are comes from data: anyone is a resident of the community they chose; a phone
whose keyed link matches an active volunteer is that volunteer; appointments give the
offices. A token carries one of these grants, chosen at sign-in or by switching.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args
from zoneinfo import ZoneInfo

from pydantic import BaseModel

from shared.auth import Principal, in_scope
from shared.events.identity import AppointmentEnded, AppointmentMade
from shared.phones import normal_phone
from shared.privacy import mask_phone


class DomainError(Exception):
    def __init__(
        self, status: int, message: str, headers: dict[str, str] | None = None, **details: object
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details
        self.headers = headers


def normalize_phone(raw: str) -> str:
    phone = normal_phone(raw)
    if phone is None:
        raise DomainError(422, f"手机号无效 / invalid phone number: {raw!r}", field="phone")
    return phone


def derived_id(kind: str, *parts: str) -> str:
    return f"{kind}-" + hashlib.sha256("\0".join(parts).encode()).hexdigest()[:20]


# --- sign-in codes ----------------------------------------------------------------------


@dataclass(frozen=True)
class CodeRules:
    ttl: timedelta
    max_attempts: int
    cooldown: timedelta
    per_phone_per_day: int
    per_address_per_day: int
    timezone: str


def new_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"


def hash_code(salt: str, phone: str, code: str) -> str:
    return hmac.new(salt.encode(), f"{phone}:{code}".encode(), hashlib.sha256).hexdigest()


def code_matches(salt: str, phone: str, code: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_code(salt, phone, code), stored_hash)


def sms_text(code: str, rules: CodeRules) -> str:
    minutes = int(rules.ttl.total_seconds() // 60)
    return f"【同心】您的验证码是 {code}，{minutes} 分钟内有效。请勿告诉他人。"


def day_start(now: datetime, timezone: str) -> datetime:
    local = now.astimezone(ZoneInfo(timezone))
    return local.replace(hour=0, minute=0, second=0, microsecond=0)


def throttled(retry_after: float, why: str) -> DomainError:
    seconds = max(1, int(retry_after + 0.999))
    return DomainError(
        429,
        f"{why}，请 {seconds} 秒后再试 / too many requests; retry in {seconds} s",
        headers={"Retry-After": str(seconds)},
        retry_after_s=seconds,
    )


def check_send(
    rules: CodeRules,
    now: datetime,
    *,
    last_sent_at: datetime | None,
    sent_to_phone_today: int,
    sent_from_address_today: int,
) -> None:
    """May another code go to this phone (from this address) now? The counts include the
    send being decided (it is recorded before it is decided, so racing requests cannot
    all pass)."""
    if last_sent_at is not None and now - last_sent_at < rules.cooldown:
        wait = (rules.cooldown - (now - last_sent_at)).total_seconds()
        raise throttled(wait, "验证码发送过于频繁")
    tomorrow = day_start(now, rules.timezone) + timedelta(days=1)
    if sent_to_phone_today > rules.per_phone_per_day:
        raise throttled((tomorrow - now).total_seconds(), "该手机号今日验证码次数已达上限")
    if sent_from_address_today > rules.per_address_per_day:
        raise throttled((tomorrow - now).total_seconds(), "该地址今日验证码次数已达上限")


WRONG_CODE = DomainError(401, "验证码错误或已过期 / wrong or expired code", field="code")
LOCKED = DomainError(
    401, "验证码错误次数过多，请重新获取 / too many wrong tries; request a new code", field="code"
)


# --- roles ------------------------------------------------------------------------------

OfficeRole = Literal["grid_worker", "community_admin", "street_admin", "district_admin", "operator"]
OFFICES: tuple[str, ...] = get_args(OfficeRole)
# Who may appoint whom: an admin appoints offices below their own rank, inside their scope.
RANK = {
    "grid_worker": 1,
    "community_admin": 2,
    "operator": 3,
    "street_admin": 3,
    "district_admin": 4,
}
# The grant chosen when the sign-in names none: the highest office first.
PREFERENCE = [
    "district_admin",
    "street_admin",
    "community_admin",
    "operator",
    "grid_worker",
    "volunteer",
    "resident",
]


class Person(BaseModel):
    id: str
    phone: str
    community_id: str | None = None
    created_at: datetime
    updated_at: datetime


class Grant(BaseModel):
    """One role a person holds: the token's role, scope and sub when it is active."""

    role: str
    scope: str
    sub: str
    label: str = ""
    scope_name: str = ""  # the org unit's Chinese name, for choosing


class VolunteerLink(BaseModel):
    volunteer_id: str
    community_id: str
    name: str
    active: bool = True
    leads_teams: list[str] = []


class Appointment(BaseModel):
    id: str
    person_id: str
    phone: str
    name: str
    role: OfficeRole
    scope: str
    active: bool = True
    appointed_by: str
    appointed_at: datetime
    ended_by: str | None = None
    ended_at: datetime | None = None

    def public(self, whole_phone: bool) -> dict[str, object]:
        data = self.model_dump(mode="json")
        if not whole_phone:
            data["phone"] = mask_phone(self.phone)
        return data


def grants_of(
    person: Person, volunteers: list[VolunteerLink], appointments: list[Appointment]
) -> list[Grant]:
    grants = [
        Grant(role=a.role, scope=a.scope, sub=person.id, label=a.name)
        for a in appointments
        if a.active
    ]
    grants += [
        Grant(
            role="volunteer",
            scope=v.community_id,
            sub=v.volunteer_id,
            label="队长" if v.leads_teams else "",
        )
        for v in volunteers
        if v.active
    ]
    if person.community_id:
        grants.append(Grant(role="resident", scope=person.community_id, sub=person.id))
    return sorted(grants, key=lambda g: (PREFERENCE.index(g.role), g.scope))


def choose_grant(
    grants: list[Grant], role: str | None, scope: str | None, previous: Grant | None = None
) -> Grant:
    """The grant a token request asks for, else the one held before, else the highest."""
    if role is not None:
        for g in grants:
            if g.role == role and (scope is None or g.scope == scope):
                return g
        raise DomainError(
            403,
            f"您没有 {role}{'@' + scope if scope else ''} 身份 / you do not hold this role",
            roles=[g.model_dump() for g in grants],
        )
    if previous is not None:
        for g in grants:
            if (g.role, g.scope, g.sub) == (previous.role, previous.scope, previous.sub):
                return g
    if not grants:
        raise DomainError(
            422,
            "请先选择您所在的社区 / choose your community first (role resident, scope)",
            field="scope",
        )
    return grants[0]


def choose_community(person: Person, community_id: str, known: bool, now: datetime) -> Person:
    if not known:
        raise DomainError(
            422, f"社区 {community_id} 不存在 / unknown community {community_id}", field="scope"
        )
    return person.model_copy(update={"community_id": community_id, "updated_at": now})


# --- appointments ----------------------------------------------------------------------


def appointment_id(person_id: str, role: str, scope: str) -> str:
    """From the person id, never the phone: the id travels on the identity stream."""
    return derived_id("appt", person_id, role, scope)


def may_appoint(actor: Principal, role: str, scope: str) -> bool:
    """An admin above the office, inside their scope; a service (a district's first admin)
    anywhere in its scope."""
    if not in_scope(scope, actor.scope):
        return False
    if actor.is_service:
        return True
    return actor.is_admin and RANK.get(actor.role, 0) > RANK[role]


def require_appointer(actor: Principal, role: str, scope: str) -> None:
    if role not in OFFICES:
        raise DomainError(422, f"无法任命角色 {role} / role {role} is not an office", field="role")
    if not may_appoint(actor, role, scope):
        raise DomainError(403, f"您无权在 {scope} 任命 {role} / you may not appoint this here")


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
        raise DomainError(404, f"组织 {scope} 不存在 / unknown org unit {scope}", field="scope")
    if level not in OFFICE_LEVELS[role]:
        raise DomainError(
            422,
            f"{role} 须任命在{'/'.join(OFFICE_LEVELS[role])}级 / a {role} is appointed to a "
            f"{' or '.join(OFFICE_LEVELS[role])}, not a {level}",
            field="scope",
        )


def may_read_appointments(actor: Principal, scope: str) -> bool:
    return in_scope(scope, actor.scope) and (actor.is_admin or actor.is_service)


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
        raise DomainError(422, "姓名须为 1 至 60 个字 / name must be 1-60 characters", field="name")
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
        name=clean_name,
        appointed_by=actor.sub,
        appointed_at=now,
    )
    return appointment, [event]


def end_appointment(
    appointment: Appointment, actor: Principal, now: datetime
) -> tuple[Appointment, list[AppointmentEnded]]:
    if not may_appoint(actor, appointment.role, appointment.scope):
        raise DomainError(403, "您无权免去此任命 / you may not end this appointment")
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
