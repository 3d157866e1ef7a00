"""What clients of the notify service read: subscriptions, preferences, the inbox."""

from __future__ import annotations

from typing import Any

from services.notify.adapters.inbox import item_seq
from services.notify.domain import policy
from services.notify.domain.audience import Subscription
from services.notify.handlers.commands import NotifyDeps
from shared.auth import Principal
from shared.http import ApiError


async def subscriptions(
    deps: NotifyDeps, principal: Principal, recipient_id: str | None, scope: str | None
) -> list[Subscription]:
    policy.may_list(principal, recipient_id, scope)
    if recipient_id is not None:
        found = list((await deps.profiles.get(recipient_id)).subscriptions.values())
    elif scope is not None:
        found = await deps.profiles.subscriptions_in(scope)
    else:
        found = list((await deps.profiles.get(principal.sub)).subscriptions.values())
    shown = [s for s in found if policy.may_manage(principal, s)]
    return sorted(shown, key=lambda s: (s.created_at, s.id))


async def inbox_page(
    deps: NotifyDeps, principal: Principal, recipient_id: str, cursor: str | None, limit: int
) -> dict[str, Any]:
    policy.own_inbox(principal, recipient_id, deps.read_model.home_of(recipient_id))
    before = None
    if cursor is not None:
        if not cursor.isdigit():
            raise ApiError(422, "游标无效 / invalid cursor", details={"cursor": cursor})
        before = int(cursor)
    items, unread, next_cursor = await deps.inbox.page(recipient_id, before, limit)
    return {
        "items": items,
        "unread": unread,
        "next_cursor": str(next_cursor) if next_cursor is not None else None,
    }


def stream_start(principal: Principal, recipient_id: str, last_event_id: str | None) -> int | None:
    """Checks the caller may follow this inbox (their own); the sequence to resume after."""
    policy.own_inbox(principal, recipient_id, None)
    if last_event_id and last_event_id.startswith(recipient_id + ":"):
        return item_seq(last_event_id)
    return None
