"""Abuse of sign-in and of tokens, against the real services, broker and FerretDB: codes
locked after wrong tries, requests for codes throttled with Retry-After, a reused refresh
token ending its session, and every malformed or foreign token 401 at every service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import tempfile
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest

from services.metrics.app import create_app as metrics_app
from services.needs.app import create_app as needs_app
from services.notify.app import create_app as notify_app
from services.volunteers.app import create_app as volunteers_app
from shared.settings import Settings
from shared.signing import current_key, public_raw
from tests.helpers import running
from tests.identity_support import HEPING, Identity, identity_service, new_phone, sms_code


async def test_five_wrong_codes_lock_it_and_the_right_one_is_refused_after() -> None:
    async with identity_service() as idp:
        phone = new_phone()
        assert (await idp.client.post("/v1/auth/otp", json={"phone": phone})).status_code == 202
        code = await sms_code(idp.settings, phone)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        answers = []
        for _ in range(5):
            resp = await idp.client.post("/v1/auth/token", json={"phone": phone, "code": wrong})
            answers.append(resp.status_code)
        assert answers == [401] * 5
        sixth = await idp.client.post(
            "/v1/auth/token",
            json={"phone": phone, "code": code, "role": "resident", "scope": HEPING},
        )
        assert sixth.status_code == 401, sixth.text
        assert "too many wrong tries" in sixth.json()["error"]["message"]


async def test_requests_for_codes_are_throttled_by_cooldown_and_daily_caps() -> None:
    async with identity_service(
        identity_codes_per_phone_per_day=3, identity_codes_per_address_per_day=5
    ) as idp:
        phone = new_phone()
        statuses, waits = [], []
        for _ in range(10):
            resp = await idp.client.post("/v1/auth/otp", json={"phone": phone})
            statuses.append(resp.status_code)
            waits.append(resp.headers.get("retry-after"))
        assert statuses == [202] + [429] * 9
        assert all(w is not None and 0 < int(w) <= 60 for w in waits[1:])
        assert len([m for m in _lines(idp) if m["to"] == phone]) == 1  # refused: nothing sent

    async with identity_service(
        identity_code_cooldown_s=0,
        identity_codes_per_phone_per_day=3,
        identity_codes_per_address_per_day=5,
    ) as idp:
        phone = new_phone()
        statuses = [
            (await idp.client.post("/v1/auth/otp", json={"phone": phone})).status_code
            for _ in range(4)
        ]
        assert statuses == [202, 202, 202, 429]  # the phone's daily cap
        others = [
            (await idp.client.post("/v1/auth/otp", json={"phone": new_phone()})).status_code
            for _ in range(3)
        ]
        assert others == [202, 202, 429]  # the address's daily cap (5 sent from it)
        last = await idp.client.post("/v1/auth/otp", json={"phone": new_phone()})
        assert 60 < int(last.headers["retry-after"]) <= 86400


def _lines(idp: Identity) -> list[dict[str, Any]]:
    from tests.identity_support import sms_log

    return [json.loads(x) for x in sms_log(idp.settings).read_text().splitlines() if x.strip()]


async def test_a_reused_refresh_token_revokes_the_whole_session() -> None:
    async with identity_service(identity_code_cooldown_s=0) as idp:
        first = (await idp.sign_in(new_phone(), role="resident", scope=HEPING)).json()
        second = await idp.client.post(
            "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert second.status_code == 200, second.text
        stolen = await idp.client.post(
            "/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
        )
        assert stolen.status_code == 401 and "reused" in stolen.json()["error"]["message"]
        latest = await idp.client.post(
            "/v1/auth/refresh", json={"refresh_token": second.json()["refresh_token"]}
        )
        assert latest.status_code == 401  # the legitimate holder's chain is revoked too
        me = await idp.client.get(
            "/v1/me", headers={"Authorization": f"Bearer {second.json()['access_token']}"}
        )
        assert me.status_code == 401

        other = (await idp.sign_in(new_phone(), role="resident", scope=HEPING)).json()
        guessed = other["refresh_token"].partition(".")[0] + ".not-the-secret"
        await idp.client.post("/v1/auth/logout", json={"refresh_token": guessed})
        still = await idp.client.post(
            "/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}
        )
        assert still.status_code == 200  # a refresh id without its secret ends nothing
        other = still.json()
        out = await idp.client.post(
            "/v1/auth/logout", headers={"Authorization": f"Bearer {other['access_token']}"}
        )
        assert out.status_code == 204
        after = await idp.client.post(
            "/v1/auth/refresh", json={"refresh_token": other["refresh_token"]}
        )
        assert after.status_code == 401


# --- tokens refused everywhere ---------------------------------------------------------


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(s: Settings, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": s.jwt_issuer,
        "aud": s.jwt_audience,
        "sub": "district-admin-1",
        "role": "district_admin",
        "scope": "zhongshan",
        "sid": "sess-x",
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(minutes=5)).timestamp()),
    }
    claims.update(changes)
    return claims


def _signed(s: Settings, **changes: Any) -> str:
    key = current_key(s)
    return jwt.encode(
        _claims(s, **changes), key.private, algorithm="EdDSA", headers={"kid": key.kid}
    )


def _unsigned_forms(s: Settings) -> dict[str, str]:
    key = current_key(s)
    body = _b64(json.dumps(_claims(s)).encode())

    def header(alg: str) -> str:
        return _b64(json.dumps({"alg": alg, "typ": "JWT", "kid": key.kid}).encode())

    # HS256 keyed with the published public key (as its JWK `x`, and raw): alg confusion.
    public_x = _b64(public_raw(key.private.public_key())).encode()
    confused = {}
    for name, secret in (("x", public_x), ("raw", public_raw(key.private.public_key()))):
        signing_input = f"{header('HS256')}.{body}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        confused[f"hs256-public-{name}"] = f"{signing_input}.{_b64(mac)}"
    return {
        **confused,
        "alg-none": f"{header('none')}.{body}.",
        "alg-none-upper": f"{header('None')}.{body}.",
    }


def bad_tokens(s: Settings) -> dict[str, str]:
    stranger = Settings(jwt_keys_dir=tempfile.mkdtemp(prefix="tongxin-stranger-"))
    now = int(datetime.now(UTC).timestamp())
    return {
        "expired": _signed(s, iat=now - 1200, exp=now - 60),
        "wrong-aud": _signed(s, aud="another-platform"),
        "wrong-iss": _signed(s, iss="https://elsewhere.example"),
        "no-aud": _signed(s, aud=None),
        "unknown-kid": _signed(stranger, iss=s.jwt_issuer, aud=s.jwt_audience),
        "empty-sub": _signed(s, sub=""),
        "blank-sub": _signed(s, sub="   "),
        "unknown-role": _signed(s, role="superuser"),
        "garbage": "not.a.token",
        **_unsigned_forms(s),
    }


# One protected read per service.
PROBES = {
    "identity": "/v1/me",
    "needs": "/v1/needs?community_id=zhongshan.hongyan.heping",
    "volunteers": "/v1/orgs/zhongshan",
    "notify": "/v1/subscriptions",
    "metrics": "/v1/stats?scope=zhongshan",
}


@pytest.fixture
async def five_services() -> AsyncIterator[tuple[Settings, dict[str, httpx.AsyncClient]]]:
    async with identity_service() as idp, AsyncExitStack() as stack:
        clients = {"identity": idp.client}
        for name, make in (
            ("needs", needs_app),
            ("volunteers", volunteers_app),
            ("notify", notify_app),
            ("metrics", metrics_app),
        ):
            clients[name] = await stack.enter_async_context(running(make(idp.settings)))
        yield idp.settings, clients


async def test_every_malformed_or_foreign_token_is_401_at_every_service(
    five_services: tuple[Settings, dict[str, httpx.AsyncClient]],
) -> None:
    s, clients = five_services
    good = {"Authorization": f"Bearer {_signed(s)}"}
    for service, path in PROBES.items():
        control = await clients[service].get(path, headers=good)
        assert control.status_code != 401, (service, control.text)
    failures = []
    for name, token in bad_tokens(s).items():
        for service, path in PROBES.items():
            resp = await clients[service].get(path, headers={"Authorization": f"Bearer {token}"})
            if resp.status_code != 401:
                failures.append((name, service, resp.status_code, resp.text[:200]))
    assert failures == []
