"""A resident or volunteer subscribes their own email or phone only after confirming it with
the code sent there (issue 19: a resident subscribed arbitrary phones and addresses)."""

from __future__ import annotations

import re

from services.notify.adapters.channels import LogSmsProvider
from shared.settings import Settings
from tests.helpers import auth
from tests.integration.test_notify_support import A, notify_service, notify_settings


async def test_own_phone_is_used_only_after_its_code_is_confirmed(settings: Settings) -> None:
    s = notify_settings(settings, notify_confirm_contacts=True)
    sms = LogSmsProvider()
    async with notify_service(s, sms=sms) as (client, _, _app):
        me = auth(s, "resident", A, "res-wang")
        body = {"recipient_id": "res-wang", "channel": "sms", "target": "13812345678"}
        resp = await client.post("/v1/subscriptions", json=body, headers=me)
        assert resp.status_code == 202, resp.text
        pending = resp.json()
        assert pending["target"] == "138****5678"
        [(phone, text)] = sms.sent
        assert phone == "13812345678"
        match = re.search(r"验证码是 ([0-9]{6})", text)
        assert match is not None, text
        code = match.group(1)
        listed = await client.get("/v1/subscriptions", headers=me)
        assert listed.json()["items"] == []  # nothing is sent there before confirmation

        wrong = "000000" if code != "000000" else "111111"
        confirm = {"pending_id": pending["pending_id"], "code": wrong}
        resp = await client.post("/v1/subscriptions/confirmation", json=confirm, headers=me)
        assert resp.status_code == 422 and "验证码不正确" in resp.text
        other = auth(s, "resident", A, "res-li")  # someone else cannot confirm it
        confirm["code"] = code
        resp = await client.post("/v1/subscriptions/confirmation", json=confirm, headers=other)
        assert resp.status_code == 404
        resp = await client.post("/v1/subscriptions/confirmation", json=confirm, headers=me)
        assert resp.status_code == 201, resp.text
        assert resp.json()["target"] == "13812345678"
        resp = await client.post("/v1/subscriptions/confirmation", json=confirm, headers=me)
        assert resp.status_code == 404  # used once

        # a verified contact needs no second code; an unverified one does
        again = {**body, "categories": ["medical"]}
        resp = await client.post("/v1/subscriptions", json=again, headers=me)
        assert resp.status_code == 201, resp.text
        stranger = {**body, "target": "13900000000"}
        resp = await client.post("/v1/subscriptions", json=stranger, headers=me)
        assert resp.status_code == 202 and len(sms.sent) == 2
        listed = await client.get("/v1/subscriptions", headers=me)
        assert {i["target"] for i in listed.json()["items"]} == {"13812345678"}


async def test_a_code_allows_five_tries_only(settings: Settings) -> None:
    s = notify_settings(settings, notify_confirm_contacts=True)
    sms = LogSmsProvider()
    async with notify_service(s, sms=sms) as (client, _, _app):
        me = auth(s, "volunteer", A, "v1")
        body = {"recipient_id": "v1", "channel": "sms", "target": "13812345678"}
        pending = (await client.post("/v1/subscriptions", json=body, headers=me)).json()
        code = re.findall(r"[0-9]{6}", sms.sent[0][1])[0]
        wrong = [
            c for c in ("000000", "111111", "222222", "333333", "444444", "555555") if c != code
        ][:5]
        for guess in wrong:
            confirm = {"pending_id": pending["pending_id"], "code": guess}
            resp = await client.post("/v1/subscriptions/confirmation", json=confirm, headers=me)
            assert resp.status_code == 422
        confirm = {"pending_id": pending["pending_id"], "code": code}
        resp = await client.post("/v1/subscriptions/confirmation", json=confirm, headers=me)
        assert resp.status_code == 404  # gone after five wrong tries
