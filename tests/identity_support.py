"""What the identity service's tests share: the service on a real port (other services
fetch its JWKS), the codes its log-only SMS provider wrote, a signed-in person."""

from __future__ import annotations

import json
import random
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from services.identity.app import create_app
from shared.events.envelope import EventPayload
from shared.settings import Settings
from tests.helpers import cleanup, eventually, free_port, handled, isolated_settings, serving
from tests.needs_support import org_unit, publish

DISTRICT = "zhongshan"
STREET = "zhongshan.hongyan"
HEPING = "zhongshan.hongyan.heping"
DONGFENG = "zhongshan.hongyan.dongfeng"


def org_tree() -> list[EventPayload]:
    named = [
        (DISTRICT, "district", "中山区"),
        (STREET, "street", "红岩街道"),
        (HEPING, "community", "和平社区"),
        (DONGFENG, "community", "东风社区"),
        ("zhongshan.shiqiao", "street", "石桥街道"),
        ("zhongshan.shiqiao.hepingli", "community", "和平里社区"),
    ]
    return [org_unit(path, level).model_copy(update={"name": name}) for path, level, name in named]


def new_phone() -> str:
    return "139" + "".join(random.choices("0123456789", k=8))


def sms_log(settings: Settings) -> Path:
    return Path(settings.var_dir) / "log" / "sms.jsonl"


def messages_to(settings: Settings, phone: str) -> list[dict[str, Any]]:
    path = sms_log(settings)
    if not path.exists():
        return []
    lines = path.read_text(encoding="utf-8").splitlines()
    return [m for m in (json.loads(x) for x in lines if x.strip()) if m["to"] == phone]


async def sms_code(settings: Settings, phone: str, nth: int = 1) -> str:
    """The code of the `nth` message to `phone` in var/log/sms.jsonl, as a person reads it."""

    async def arrived() -> list[dict[str, Any]]:
        found = messages_to(settings, phone)
        return found if len(found) >= nth else []

    text = (await eventually(arrived, timeout=10))[nth - 1]["text"]
    match = re.search(r"\b(\d{6})\b", text)
    assert match, text
    return match.group(1)


@dataclass
class Identity:
    settings: Settings
    app: FastAPI
    client: httpx.AsyncClient
    url: str

    async def sign_in(self, phone: str, **extra: Any) -> httpx.Response:
        sent = await self.client.post("/v1/auth/otp", json={"phone": phone})
        assert sent.status_code == 202, sent.text
        code = await sms_code(self.settings, phone, nth=len(messages_to(self.settings, phone)))
        return await self.client.post(
            "/v1/auth/token", json={"phone": phone, "code": code, **extra}
        )

    async def knows(self, *payloads: EventPayload) -> None:
        await handled(self.app, *await publish(self.settings, *payloads))


@asynccontextmanager
async def identity_service(**overrides: Any) -> AsyncIterator[Identity]:
    """The identity service served on a free port, its JWKS the one every service of these
    settings verifies with, knowing the org tree of `org_tree()`."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    settings = isolated_settings(
        jwks_url=f"{base}/.well-known/jwks.json", jwt_issuer=base, **overrides
    )
    app = create_app(settings)
    try:
        async with serving(app, port) as url, httpx.AsyncClient(base_url=url) as client:
            identity = Identity(settings, app, client, url)
            await identity.knows(*org_tree())
            yield identity
    finally:
        await cleanup(settings)
