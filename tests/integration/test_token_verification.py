"""Verification by configuration alone: a service pointed at another OIDC provider's JWKS,
issuer and audience (an RS256 key set of its own, served by a small local HTTP server)
accepts that provider's tokens and refuses ours; key rotation keeps both keys published
during the overlap, and a verifier fetches the JWKS again for a kid it has not seen."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from services.needs.app import create_app as needs_app
from shared.auth import TokenVerifier, mint_token
from shared.signing import jwks, rotate
from tests.helpers import auth, cleanup, isolated_settings, jwks_url_for, running

PROVINCE = "https://idp.province.example/realms/tongxin"


@pytest.fixture
def provincial_idp() -> Iterator[tuple[str, rsa.RSAPrivateKey, str]]:
    """Another identity provider: its own RSA key, its JWKS on a local port."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    kid = f"province-{uuid.uuid4().hex[:8]}"
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": kid, "alg": "RS256", "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/certs", key, kid
    finally:
        server.shutdown()


def provincial_token(key: rsa.RSAPrivateKey, kid: str, **claims: Any) -> str:
    now = datetime.now(UTC)
    body = {
        "iss": PROVINCE,
        "aud": "tongxin-prod",
        "sub": "resident-from-province",
        "role": "resident",
        "scope": "zhongshan.hongyan.dongfeng",
        "iat": now,
        "exp": now + timedelta(minutes=5),
        **claims,
    }
    return jwt.encode(body, key, algorithm="RS256", headers={"kid": kid})


async def test_a_service_pointed_at_another_provider_trusts_its_tokens_and_not_ours(
    provincial_idp: tuple[str, rsa.RSAPrivateKey, str],
) -> None:
    url, key, kid = provincial_idp
    ours = isolated_settings()
    settings = isolated_settings(jwks_url=url, jwt_issuer=PROVINCE, jwt_audience="tongxin-prod")
    try:
        async with running(needs_app(settings)) as needs:
            probe = "/v1/needs?community_id=zhongshan.hongyan.dongfeng"
            theirs = {"Authorization": f"Bearer {provincial_token(key, kid)}"}
            assert (await needs.get(probe, headers=theirs)).status_code == 200
            ours_refused = await needs.get(probe, headers=auth(ours, "district_admin", "zhongshan"))
            assert ours_refused.status_code == 401
            blank = {"Authorization": f"Bearer {provincial_token(key, kid, sub='')}"}
            assert (await needs.get(probe, headers=blank)).status_code == 401
    finally:
        await cleanup(settings)


async def test_a_rotated_key_set_publishes_both_keys_and_verifiers_refetch_for_a_new_kid(
    tmp_path: Any,
) -> None:
    settings = isolated_settings(jwt_keys_dir=str(tmp_path))
    assert settings.jwks_url == jwks_url_for(str(tmp_path))
    verifier = TokenVerifier(settings)
    before = mint_token(settings, "resident", "zs.hy.df", "p-1")
    assert (await verifier.principal(before)).sub == "p-1"  # the JWKS is fetched and cached

    rotate(settings)
    published = [k["kid"] for k in jwks(settings)["keys"]]
    assert len(published) == 2
    after = mint_token(settings, "resident", "zs.hy.df", "p-2")
    assert jwt.get_unverified_header(after)["kid"] == published[1]
    await asyncio.sleep(1.1)  # an unknown kid refetches at most once a second
    assert (await verifier.principal(after)).sub == "p-2"
    assert (await verifier.principal(before)).sub == "p-1"  # the overlap

    rotate(settings)  # a third key: the oldest is withdrawn
    kids = [k["kid"] for k in jwks(settings)["keys"]]
    assert len(kids) == 2 and kids[0] == published[1] and published[0] not in kids
