"""Commands of the identity service → domain rules → repository.

Long because sign-in, sessions, appointments and service accounts are the identity service's
few use cases, each a short function.

Sign-in: a code to the phone (`request_code`), the code for a session (`sign_in`), the
session's refresh token for the next pair (`refresh`, rotating: a refresh token spent
twice revokes its session). Every token pair is decided on fresh data: the grants a person
holds now (appointments, volunteers linked by the phone's keyed hash, their community).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from services.identity.adapters.repository import IdentityRepository
from services.identity.adapters.sms import SmsProvider
from services.identity.domain import appointment, policy
from services.identity.domain import person as person_domain
from services.identity.domain import sign_in as sign_in_domain
from services.identity.domain.person import Appointment, Grant, Person
from services.identity.domain.sign_in import LOCKED, WRONG_CODE, CodeRules
from services.identity.metrics import CODES_REFUSED, CODES_SENT, SIGN_INS, TOKENS_ISSUED
from services.identity.settings import IdentitySettings
from shared.auth import Principal, mint_token
from shared.clock import Clock, SystemClock
from shared.errors import DomainError, not_found
from shared.logging import get_logger
from shared.mongo.unit_of_work import Backoff, GaveUp, until_committed
from shared.phones import phone_link
from shared.privacy import mask_phone

log = get_logger(__name__)
T = TypeVar("T")
MAX_ATTEMPTS = 20


@dataclass
class IdentityDeps:
    repo: IdentityRepository
    settings: IdentitySettings
    sms: SmsProvider
    clock: Clock = field(default_factory=SystemClock)

    @property
    def rules(self) -> CodeRules:
        s = self.settings
        return CodeRules(
            ttl=timedelta(seconds=s.identity_code_ttl_s),
            max_attempts=s.identity_code_max_attempts,
            cooldown=timedelta(seconds=s.identity_code_cooldown_s),
            per_phone_per_day=s.identity_codes_per_phone_per_day,
            per_address_per_day=s.identity_codes_per_address_per_day,
            timezone=s.timezone,
        )


async def decided_again(attempt: Callable[[], Awaitable[T]]) -> T:
    """`attempt` (load, decide, commit) again on newer data while another writer wins."""
    try:
        result, _ = await until_committed(attempt, Backoff(max_attempts=MAX_ATTEMPTS))
    except GaveUp:
        raise DomainError(
            "conflict", "并发修改过多，请重试 / too many concurrent changes; try again"
        ) from None
    return result


# --- sign-in codes ----------------------------------------------------------------------


async def request_code(deps: IdentityDeps, raw_phone: str, address: str) -> dict[str, int]:
    """Sends a code to any valid phone (the answer never says whether it is known)."""
    phone = sign_in_domain.normalize_phone(raw_phone)
    rules, now = deps.rules, deps.clock.now()
    code, salt = sign_in_domain.new_code(), secrets.token_hex(16)
    code_id = uuid.uuid4().hex
    await deps.repo.record_code(
        {
            "_id": code_id,
            "phone": phone,
            "address": address,
            "salt": salt,
            "hash": sign_in_domain.hash_code(salt, phone, code),
            "created_at": now,
            "expires_at": now + rules.ttl,
        }
    )
    try:
        today = sign_in_domain.day_start(now, rules.timezone)
        to_phone = await deps.repo.sends_since("phone", phone, today)
        from_address = await deps.repo.sends_since("address", address, today)
        earlier = [d["created_at"] for d in to_phone if d["_id"] != code_id]
        sign_in_domain.check_send(
            rules,
            now,
            last_sent_at=max(earlier) if earlier else None,
            sent_to_phone_today=len(to_phone),
            sent_from_address_today=len(from_address),
        )
        await deps.sms.send_text(phone, sign_in_domain.sms_text(code, rules))
    except BaseException as exc:
        await deps.repo.forget_code(code_id)
        if isinstance(exc, DomainError):
            CODES_REFUSED.labels("throttled").inc()
        raise
    CODES_SENT.inc()
    log.info("sign_in_code_sent", phone=mask_phone(phone))
    return {
        "expires_in": int(rules.ttl.total_seconds()),
        "resend_after": int(rules.cooldown.total_seconds()),
    }


async def check_code(deps: IdentityDeps, phone: str, code: str) -> str:
    """The id of the phone's newest code if `code` is it (not yet spent); every try counts."""
    newest = await deps.repo.newest_code(phone)
    now = deps.clock.now()
    if newest is None or newest["expires_at"] <= now:
        CODES_REFUSED.labels("expired").inc()
        raise WRONG_CODE
    tries = await deps.repo.count_attempt(newest["_id"])
    if tries > deps.rules.max_attempts:
        CODES_REFUSED.labels("locked").inc()
        raise LOCKED
    if not code.isdigit() or not sign_in_domain.code_matches(
        newest["salt"], phone, code, newest["hash"]
    ):
        CODES_REFUSED.labels("wrong").inc()
        raise LOCKED if tries >= deps.rules.max_attempts else WRONG_CODE
    if await deps.repo.code_was_used(newest["_id"]):
        raise WRONG_CODE
    return str(newest["_id"])


# --- grants and tokens ------------------------------------------------------------------


async def grants_for(deps: IdentityDeps, person: Person) -> list[Grant]:
    link = phone_link(deps.settings.link_key, person.phone)
    volunteers = await deps.repo.volunteers_of(link)
    appointments = await deps.repo.appointments_of(person.id)
    grants = person_domain.grants_of(person, volunteers, appointments)
    names = await deps.repo.org_units_by_ids([g.scope for g in grants])
    return [
        g.model_copy(update={"scope_name": names.get(g.scope, {}).get("name", "")}) for g in grants
    ]


async def _with_community(
    deps: IdentityDeps, person: Person, role: str | None, scope: str | None
) -> Person:
    """A resident's token request with a scope chooses (or changes) their community."""
    if role != "resident" or not scope or scope == person.community_id:
        return person
    unit = await deps.repo.org_unit(scope)
    known = unit is not None and unit["level"] in ("community", "grid")
    person = person_domain.choose_community(person, scope, known, deps.clock.now())
    await deps.repo.save_person(person)
    return person


def _grant_of(session: dict[str, Any]) -> Grant:
    return Grant(role=session["role"], scope=session["scope"], sub=session["sub"])


async def _issue(
    deps: IdentityDeps, person: Person, grant: Grant, grants: list[Grant], sid: str | None
) -> dict[str, Any]:
    s, now = deps.settings, deps.clock.now()
    if sid is None:
        sid = f"sess-{uuid.uuid4().hex}"
        await deps.repo.save_session(
            {
                "_id": sid,
                "person_id": person.id,
                **grant.model_dump(include={"role", "scope", "sub"}),
                "created_at": now,
                "updated_at": now,
                "revoked_at": None,
            }
        )
    else:
        await deps.repo.sessions.update_one(
            {"_id": sid},
            {"$set": {**grant.model_dump(include={"role", "scope", "sub"}), "updated_at": now}},
        )
    refresh_id, secret = uuid.uuid4().hex, secrets.token_urlsafe(32)
    await deps.repo.save_refresh(
        {
            "_id": refresh_id,
            "sid": sid,
            "hash": hashlib.sha256(secret.encode()).hexdigest(),
            "created_at": now,
            "expires_at": now + timedelta(seconds=s.identity_refresh_ttl_s),
        }
    )
    ttl = timedelta(seconds=s.identity_access_ttl_s)
    TOKENS_ISSUED.labels(grant.role).inc()
    return {
        "access_token": mint_token(s, grant.role, grant.scope, grant.sub, ttl, sid=sid),
        "token_type": "bearer",
        "expires_in": int(ttl.total_seconds()),
        "refresh_token": f"{refresh_id}.{secret}",
        "role": grant.role,
        "scope": grant.scope,
        "sub": grant.sub,
        "roles": [g.model_dump() for g in grants],
    }


async def sign_in(
    deps: IdentityDeps, raw_phone: str, code: str, role: str | None, scope: str | None
) -> dict[str, Any]:
    phone = sign_in_domain.normalize_phone(raw_phone)
    code_id = await check_code(deps, phone, code.strip())
    person = await deps.repo.ensure_person(phone, deps.clock.now())
    person = await _with_community(deps, person, role, scope)
    grants = await grants_for(deps, person)
    grant = person_domain.choose_grant(grants, role, scope)  # refused: the code stays usable
    if not await deps.repo.use_code(code_id):
        raise WRONG_CODE
    SIGN_INS.labels(grant.role).inc()
    log.info("signed_in", person_id=person.id, role=grant.role, scope=grant.scope)
    return await _issue(deps, person, grant, grants, None)


REFRESH_REFUSED = DomainError(
    "unauthenticated", "刷新令牌无效，请重新登录 / invalid refresh token; sign in again"
)


async def refresh(
    deps: IdentityDeps, refresh_token: str, role: str | None = None, scope: str | None = None
) -> dict[str, Any]:
    """The next pair of the session; with role/scope, switches the active role."""
    stored = await _stored_refresh(deps, refresh_token)
    if stored is None:
        raise REFRESH_REFUSED
    refresh_id = str(stored["_id"])
    session = await deps.repo.session(stored["sid"])
    now = deps.clock.now()
    if session is None or session.get("revoked_at") is not None or stored["expires_at"] <= now:
        raise REFRESH_REFUSED
    person = await deps.repo.person(session["person_id"])
    if person is None:
        raise REFRESH_REFUSED
    person = await _with_community(deps, person, role, scope)
    grants = await grants_for(deps, person)
    grant = person_domain.choose_grant(grants, role, scope, previous=_grant_of(session))
    if not await deps.repo.spend_refresh(refresh_id):
        await deps.repo.revoke_session(session["_id"], now, "refresh token reused")
        log.warning("refresh_token_reused", sid=session["_id"], person_id=person.id)
        raise DomainError(
            "unauthenticated",
            "刷新令牌已被使用，会话已撤销 / refresh token reused; the session is revoked",
        )
    return await _issue(deps, person, grant, grants, session["_id"])


async def _stored_refresh(deps: IdentityDeps, refresh_token: str) -> dict[str, Any] | None:
    """The stored refresh token that `refresh_token` is (id and secret both right), or None."""
    refresh_id, _, secret = refresh_token.strip().partition(".")
    stored = await deps.repo.refresh(refresh_id) if refresh_id and secret else None
    digest = hashlib.sha256(secret.encode()).hexdigest()
    return stored if stored and hmac.compare_digest(stored["hash"], digest) else None


async def client_credentials(
    deps: IdentityDeps, client_id: str, client_secret: str
) -> dict[str, Any]:
    client = deps.settings.identity_service_clients.get(client_id)
    expected = client.get("secret", "") if client else ""
    if not client or not expected or not hmac.compare_digest(expected, client_secret):
        raise DomainError("unauthenticated", "客户端认证失败 / invalid client credentials")
    ttl = timedelta(seconds=deps.settings.identity_access_ttl_s)
    scope, sub = client["scope"], f"service:{client_id}"
    TOKENS_ISSUED.labels("service").inc()
    token = mint_token(deps.settings, "service", scope, sub, ttl, sid=f"client-{client_id}")
    return {
        "access_token": token,
        "token_type": "bearer",
        "expires_in": int(ttl.total_seconds()),
        "refresh_token": None,
        "role": "service",
        "scope": scope,
        "sub": sub,
        "roles": [{"role": "service", "scope": scope, "sub": sub, "label": client_id}],
    }


async def log_out(deps: IdentityDeps, sid: str | None, refresh_token: str | None) -> None:
    if refresh_token:
        stored = await _stored_refresh(deps, refresh_token)
        sid = stored["sid"] if stored else sid
    if sid:
        await deps.repo.revoke_session(sid, deps.clock.now(), "logged out")


# --- appointments ----------------------------------------------------------------------


async def appoint(
    deps: IdentityDeps,
    actor: Principal,
    raw_phone: str,
    name: str,
    role: str,
    scope: str,
    cid: str | None,
) -> tuple[Appointment, bool]:
    """True when this made a new appointment (an active one is answered as it is)."""
    phone = sign_in_domain.normalize_phone(raw_phone)
    policy.require_appointer(actor, role, scope)  # before a person is made for the phone
    unit = await deps.repo.org_unit(scope)
    appointment.require_office_level(role, scope, unit["level"] if unit else None)
    person = await deps.repo.ensure_person(phone, deps.clock.now())

    async def attempt() -> tuple[Appointment, bool]:
        existing, version = await deps.repo.appointment(
            appointment.appointment_id(person.id, role, scope)
        )
        made, events = appointment.appoint(
            existing,
            person_id=person.id,
            phone=phone,
            name=name,
            role=role,
            scope=scope,
            actor=actor,
            now=deps.clock.now(),
        )
        if events:
            await deps.repo.save_appointment(made, version, events, cid)
        return made, bool(events)

    return await decided_again(attempt)


async def end_appointment(
    deps: IdentityDeps, actor: Principal, appointment_id: str, cid: str | None
) -> Appointment:
    async def attempt() -> Appointment:
        existing, version = await deps.repo.appointment(appointment_id)
        if existing is None or not policy.may_read_appointments(actor, existing.scope):
            raise not_found("appointment", appointment_id)
        ended, events = appointment.end_appointment(existing, actor, deps.clock.now())
        if events:
            await deps.repo.save_appointment(ended, version, events, cid)
        return ended

    return await decided_again(attempt)
