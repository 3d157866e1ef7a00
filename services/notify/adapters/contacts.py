"""Own contacts verified before use: a resident or volunteer subscribing their email or phone
gets a six-digit code on it and confirms it; until then nothing is sent there.

An admin in scope subscribing someone uses the contact as registered (they vouch for it);
webhooks are for admins and services only (services.notify.api)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta
from typing import Any

from services.notify.adapters.channels import Channel, DeliveryError, Notification
from shared.events.notify import Channel as ChannelName
from shared.http import ApiError
from shared.mongo.client import Database

CODE_TTL = timedelta(minutes=15)
MAX_TRIES = 5


def _digest(pending_id: str, code: str) -> str:
    return hashlib.sha256(f"{pending_id}:{code}".encode()).hexdigest()


def contact_key(recipient_id: str, channel: str, target: str) -> str:
    return f"{recipient_id}|{channel}|{target}"


class ContactConfirmations:
    """Pending confirmations (hashed codes, expiring, a few tries) and verified contacts."""

    def __init__(self, db: Database, channels: dict[str, Channel]) -> None:
        self.pending = db["contact_confirmations"]
        self.verified = db["verified_contacts"]
        self._channels = channels

    async def is_verified(self, recipient_id: str, channel: str, target: str) -> bool:
        key = contact_key(recipient_id, channel, target)
        return await self.verified.find_one({"_id": key}) is not None

    async def start(
        self,
        recipient_id: str,
        channel: ChannelName,
        target: str,
        request: dict[str, Any],
        community_id: str,
        now: datetime,
    ) -> tuple[str, datetime]:
        """Stores the pending subscription and sends its code to the target."""
        pending_id = str(uuid.uuid4())
        code = f"{secrets.randbelow(10**6):06d}"
        expires = now + CODE_TTL
        await self.pending.insert_one(
            {
                "_id": pending_id,
                "recipient_id": recipient_id,
                "channel": channel,
                "target": target,
                "request": request,
                "digest": _digest(pending_id, code),
                "tries": 0,
                "expires_at": expires,
            }
        )
        message = Notification(
            delivery_id=f"confirm:{pending_id}",
            recipient_id=recipient_id,
            channel=channel,
            target=target,
            title="同心验证码 / Tongxin confirmation code",
            body=f"您的验证码是 {code}，15 分钟内有效。/ Your code is {code} (15 minutes).",
            event_id="",
            event_type="org.tongxin.contact.confirmation",
            subject=pending_id,
            need_id=None,
            community_id=community_id,
            created_at=now,
            attempt=1,
        )
        try:
            await self._channels[channel].send(message)
        except DeliveryError:
            await self.pending.delete_one({"_id": pending_id})
            raise ApiError(503, "验证码发送失败，请稍后重试 / the code could not be sent") from None
        return pending_id, expires

    async def confirm(
        self, pending_id: str, recipient_id: str, code: str, now: datetime
    ) -> dict[str, Any]:
        """The pending subscription's request once its code matches; 404/422 otherwise."""
        doc = await self.pending.find_one({"_id": pending_id, "recipient_id": recipient_id})
        expires = doc["expires_at"] if doc else None
        if doc is None or expires is None or expires.replace(tzinfo=now.tzinfo) < now:
            raise ApiError(404, "验证请求不存在或已过期 / no such confirmation, or it expired")
        if not secrets.compare_digest(doc["digest"], _digest(pending_id, code)):
            tries = doc["tries"] + 1
            if tries >= MAX_TRIES:
                await self.pending.delete_one({"_id": pending_id})
            else:
                await self.pending.update_one({"_id": pending_id}, {"$set": {"tries": tries}})
            raise ApiError(
                422,
                "验证码不正确 / wrong code",
                details=[{"field": "code", "label": "验证码", "message": "验证码不正确"}],
            )
        await self.pending.delete_one({"_id": pending_id})
        key = contact_key(recipient_id, doc["channel"], doc["target"])
        await self.verified.replace_one({"_id": key}, {"_id": key, "verified_at": now}, upsert=True)
        request: dict[str, Any] = doc["request"]
        return request
