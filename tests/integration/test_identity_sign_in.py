"""Sign-in by phone and text-message code, against the real broker and FerretDB: the code
read from var/log/sms.jsonl as a person reads it, the community chosen by its Chinese
name, and the token used at another service."""

from __future__ import annotations

import subprocess
import sys

import jwt

from tests.helpers import settings_env
from tests.identity_support import HEPING, identity_service, messages_to, new_phone, sms_code
from tests.needs_support import need_body, needs_service, org_unit


async def test_a_resident_signs_in_with_the_code_from_the_sms_log_and_posts_a_need() -> None:
    async with identity_service(identity_code_cooldown_s=0) as idp:
        found = await idp.client.get("/v1/communities", params={"q": "和平"})
        assert found.status_code == 200, found.text
        names = {c["path"]: c["full_name"] for c in found.json()["items"]}
        heping = next(c for c in found.json()["items"] if c["path"] == HEPING)
        assert (heping["name"], heping["street"], heping["district"]) == (
            "和平社区",
            "红岩街道",
            "中山区",
        )
        assert names[HEPING] == "中山区 / 红岩街道 / 和平社区"
        assert "zhongshan.shiqiao.hepingli" in names and len(names) == 2

        phone = new_phone()
        sent = await idp.client.post("/v1/auth/otp", json={"phone": phone})
        assert sent.status_code == 202 and sent.json()["expires_in"] == 300
        (message,) = messages_to(idp.settings, phone)
        assert set(message) == {"to", "text", "sent_at"}
        code = await sms_code(idp.settings, phone)
        assert code not in sent.text

        # No community chosen yet: 422, and the code stays usable.
        first = await idp.client.post("/v1/auth/token", json={"phone": phone, "code": code})
        assert first.status_code == 422, first.text
        resp = await idp.client.post(
            "/v1/auth/token",
            json={"phone": phone, "code": code, "role": "resident", "scope": HEPING},
        )
        assert resp.status_code == 200, resp.text
        tokens = resp.json()
        assert tokens["token_type"] == "bearer" and tokens["expires_in"] <= 900
        assert tokens["role"] == "resident" and tokens["scope"] == HEPING
        claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
        header = jwt.get_unverified_header(tokens["access_token"])
        assert header["alg"] == "EdDSA" and header["kid"]
        assert {"iss", "aud", "sub", "role", "scope", "sid", "exp"} <= set(claims)
        assert claims["exp"] - claims["iat"] <= 900

        bearer = {"Authorization": f"Bearer {tokens['access_token']}"}
        me = (await idp.client.get("/v1/me", headers=bearer)).json()
        person_id = me["person"]["id"]
        assert claims["sub"] == person_id and me["person"]["community_id"] == HEPING
        assert me["person"]["phone"] == phone[:3] + "****" + phone[-4:]
        assert me["active"] == {"role": "resident", "scope": HEPING, "sub": person_id}

        # A code signs in once.
        again = await idp.client.post("/v1/auth/token", json={"phone": phone, "code": code})
        assert again.status_code == 401

        async with needs_service(idp.settings, org_unit(HEPING)) as (_, needs):
            posted = await needs.post("/v1/needs", json=need_body(HEPING), headers=bearer)
            assert posted.status_code == 201, posted.text
            assert posted.json()["requester_id"] == person_id

        # A returning resident signs in without choosing again.
        back = await idp.sign_in(phone)
        assert back.status_code == 200 and back.json()["sub"] == person_id


async def test_the_dev_cli_signs_with_the_key_the_identity_service_publishes() -> None:
    async with identity_service() as idp:
        discovery = (await idp.client.get("/.well-known/openid-configuration")).json()
        assert discovery["issuer"] == idp.settings.jwt_issuer
        assert discovery["jwks_uri"] == idp.settings.jwks_url
        keys = (await idp.client.get("/.well-known/jwks.json")).json()["keys"]
        assert keys and all(
            k["kty"] == "OKP" and k["alg"] == "EdDSA" and "d" not in k for k in keys
        )

        cli = subprocess.run(
            [
                sys.executable,
                "-m",
                "shared.cli",
                "token",
                "--role",
                "operator",
                "--scope",
                "zhongshan",
                "--sub",
                "op-1",
            ],
            env=settings_env(idp.settings),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr
        token = cli.stdout.strip().splitlines()[-1]
        assert jwt.get_unverified_header(token)["kid"] in {k["kid"] for k in keys}
        me = await idp.client.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200, me.text
        assert me.json()["active"] == {"role": "operator", "scope": "zhongshan", "sub": "op-1"}
