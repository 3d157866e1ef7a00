"""Sign-in codes: issuing, throttling, checking. No I/O."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from shared.phones import normal_phone


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
