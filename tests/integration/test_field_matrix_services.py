"""The field matrix (shared.visibility.FIELD_MATRIX) of notify's and identity's responses,
checked against real answers per role: subscriptions and their pending confirmations, inbox
items, preferences; appointments and `GET /v1/me`. Real services, broker and FerretDB."""

from __future__ import annotations

from typing import Any

import httpx

from shared.settings import Settings
from shared.visibility import FIELD_MATRIX, Reader, Record, Shown
from tests.helpers import auth, handled
from tests.identity_support import DISTRICT, DONGFENG, HEPING, identity_service, new_phone
from tests.integration.test_notify_support import (
    A,
    B,
    notify_service,
    notify_settings,
    publish,
    publisher,
    smtp_server,
    volunteer,
)

HOOK = "http://127.0.0.1:9/hooks/tongxin?token=s3cret"


def as_matrix_says(
    record: Record, reader: Reader, field: str, values: dict[Shown, Any], shown: Any
) -> None:
    """What `reader` is shown of `field` is what FIELD_MATRIX says it is shown."""
    row = FIELD_MATRIX[record][reader]
    assert shown == values[row[field]], (record, reader, field, shown)


async def test_notify_shows_subscriptions_inbox_and_preferences_as_the_matrix_says(
    settings: Settings,
) -> None:
    async with smtp_server() as smtp, publisher(settings) as kafka:
        s = notify_settings(settings, notify_confirm_contacts=True, smtp_port=smtp.port)
        async with notify_service(s) as (client, _, app):
            await _notify_rows(s, client, app, kafka)


async def _notify_rows(s: Settings, client: httpx.AsyncClient, app: Any, kafka: Any) -> None:
    v1, v2 = auth(s, "volunteer", A, "v1"), auth(s, "volunteer", A, "v2")
    admin, elsewhere = auth(s, "community_admin", A, "adm-a"), auth(s, "community_admin", B)
    await handled(app, *await publish(kafka, s, volunteer("v1", A, ["elderly_care"])))

    # v1's own email waits for its code: the answer masks it (pending_confirmation, self)
    pending = await client.post(
        "/v1/subscriptions",
        json={"channel": "email", "target": "wang.ayi@example.com"},
        headers=v1,
    )
    assert pending.status_code == 202, pending.text
    as_matrix_says(
        "pending_confirmation",
        "self",
        "target",
        {"whole": "wang.ayi@example.com", "masked": "w***@example.com"},
        pending.json()["target"],
    )
    # an admin of A subscribes v1's phone and a webhook (no code for admins)
    targets = {"sms": "13812345678", "webhook": HOOK}
    for channel, target in targets.items():
        made = await client.post(
            "/v1/subscriptions",
            json={"recipient_id": "v1", "channel": channel, "target": target},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        as_matrix_says(
            "subscription", "admin_in_scope", "target", {"whole": target}, made.json()["target"]
        )
    masked = {"sms": "138****5678", "webhook": "http://127.0.0.1:9"}
    for reader, headers, params in (
        ("self", v1, {}),
        ("admin_in_scope", admin, {"scope": A}),
    ):
        listed = await client.get("/v1/subscriptions", params=params, headers=headers)
        assert listed.status_code == 200, listed.text
        shown = {i["channel"]: i["target"] for i in listed.json()["items"]}
        for channel, target in targets.items():
            values: dict[Shown, Any] = {"whole": target, "masked": masked[channel]}
            as_matrix_says("subscription", reader, "target", values, shown[channel])
    # nobody else is shown them ("other" has no row)
    assert "other" not in FIELD_MATRIX["subscription"]
    theirs = await client.get("/v1/subscriptions", params={"recipient_id": "v1"}, headers=v2)
    assert theirs.status_code == 404, theirs.text
    scope = await client.get("/v1/subscriptions", params={"scope": A}, headers=v2)
    assert scope.status_code in (200, 404), scope.text
    assert "13812345678" not in scope.text and "s3cret" not in scope.text
    outside = await client.get("/v1/subscriptions", params={"scope": A}, headers=elsewhere)
    assert outside.status_code == 404, outside.text

    # inbox: the recipient and an admin of their community; nobody else
    assert set(FIELD_MATRIX["inbox_item"]) == {"self", "admin_in_scope"}
    own = await client.get("/v1/inbox", headers=v1)
    assert own.status_code == 200, own.text
    read = await client.get("/v1/inbox", params={"recipient_id": "v1"}, headers=admin)
    assert read.status_code == 200, read.text
    for headers in (v2, elsewhere):
        refused = await client.get("/v1/inbox", params={"recipient_id": "v1"}, headers=headers)
        assert refused.status_code == 404, refused.text

    # preferences: the recipient only
    assert set(FIELD_MATRIX["preferences"]) == {"self"}
    quiet = {"quiet_hours": {"start": "22:00", "end": "07:00"}, "timezone": "Asia/Shanghai"}
    put = await client.put("/v1/preferences", json=quiet, headers=v1)
    assert put.status_code == 200, put.text
    mine = (await client.get("/v1/preferences", headers=v1)).json()
    for field in ("quiet_hours", "timezone"):
        as_matrix_says("preferences", "self", field, {"whole": put.json()[field]}, mine[field])
    for headers in (v2, admin):
        refused = await client.get("/v1/preferences/v1", headers=headers)
        assert refused.status_code in (403, 404), refused.text


async def test_identity_shows_appointments_and_me_as_the_matrix_says() -> None:
    async with identity_service(identity_code_cooldown_s=0) as idp:
        s = idp.settings
        phone = new_phone()
        district = auth(s, "district_admin", DISTRICT)
        made = await idp.client.post(
            "/v1/appointments",
            json={"phone": phone, "name": "王书记", "role": "community_admin", "scope": HEPING},
            headers=district,
        )
        assert made.status_code == 201, made.text
        listed = await idp.client.get(
            "/v1/appointments", params={"scope": HEPING}, headers=district
        )
        assert listed.status_code == 200, listed.text
        (shown,) = [a for a in listed.json()["items"] if a["id"] == made.json()["id"]]
        for body in (made.json(), shown):
            as_matrix_says(
                "appointment", "admin_in_scope", "phone", {"whole": phone}, body["phone"]
            )
            as_matrix_says(
                "appointment", "admin_in_scope", "name", {"whole": "王书记"}, body["name"]
            )
        # appointments are for admins in scope only: no other row, and refused
        assert set(FIELD_MATRIX["appointment"]) == {"admin_in_scope"}
        for who in (
            auth(s, "community_admin", DONGFENG),
            auth(s, "resident", HEPING),
            auth(s, "volunteer", HEPING),
        ):
            refused = await idp.client.get(
                "/v1/appointments", params={"scope": HEPING}, headers=who
            )
            assert refused.status_code in (403, 404), refused.text
            assert phone not in refused.text

        tokens = (await idp.sign_in(phone)).json()
        me = await idp.client.get(
            "/v1/me", headers={"Authorization": f"Bearer {tokens['access_token']}"}
        )
        assert me.status_code == 200, me.text
        masked = phone[:3] + "****" + phone[-4:]
        as_matrix_says(
            "me",
            "self",
            "person.phone",
            {"whole": phone, "masked": masked},
            me.json()["person"]["phone"],
        )
