"""Who may do what in the notify service: every permission check lives here.

A recipient reads only their own inbox and preferences; a user manages their own
subscriptions; admins manage subscriptions inside their scope. Whatever lies outside the
caller's reach answers 404, as if it did not exist (docs/contract.md).
"""

from __future__ import annotations

from services.notify.domain.audience import Audience, Subscription
from shared.auth import Principal
from shared.http import ApiError


def hidden(what: str, ident: str) -> ApiError:
    return ApiError(404, f"{what}不存在 / {what} not found", details={"id": ident})


def own_inbox(principal: Principal, recipient_id: str, home_community: str | None) -> None:
    """One's own inbox; an admin may read that of a volunteer whose community is in scope."""
    if principal.sub == recipient_id:
        return
    if home_community is None or not principal.administers(home_community):
        raise ApiError(
            404, "收件箱不存在 / inbox not found", details={"recipient_id": recipient_id}
        )


def own_preferences(principal: Principal, recipient_id: str) -> None:
    if principal.sub != recipient_id:
        raise ApiError(
            404, "偏好设置不存在 / preferences not found", details={"recipient_id": recipient_id}
        )


def subscription_audience(
    principal: Principal, recipient_id: str, scope: str, requested: Audience | None
) -> Audience:
    """Whether the caller may create this subscription, and what it hears.

    Admins (and subscriber services) in scope may subscribe anyone: by default to everything
    in the scope. Operators may subscribe themselves to their scope. Anyone else subscribes
    only themselves, inside their own scope, to what is addressed to them."""
    if recipient_id != principal.sub:
        if not principal.administers(scope):
            raise ApiError(
                403, "只能为本辖区设置订阅 / subscriptions for others need an admin scope"
            )
        return requested or "scope"
    if principal.reads(scope):
        return requested or "scope"
    if requested == "scope":
        raise ApiError(403, "无权订阅整个辖区 / only admins and operators subscribe to a scope")
    if not principal.covers(scope):
        raise ApiError(403, "订阅范围超出您的辖区 / scope outside yours")
    return "personal"


def require_recipient_in_scope(principal: Principal, home_community: str | None) -> None:
    """An admin subscribes a volunteer of their own part of the tree only."""
    if home_community is not None and not principal.administers(home_community):
        raise ApiError(
            403, "该志愿者不在您的辖区 / the recipient is a volunteer outside your scope"
        )


def require_below_cap(held: int, cap: int) -> None:
    if held >= cap:
        raise ApiError(
            409,
            f"订阅数量已达上限（{cap} 个）/ a recipient holds at most {cap} subscriptions",
            details={"limit": cap},
        )


def may_manage(principal: Principal, sub: Subscription) -> bool:
    return sub.recipient_id == principal.sub or principal.administers(sub.scope)


def may_list(principal: Principal, recipient_id: str | None, scope: str | None) -> None:
    if recipient_id is not None and recipient_id != principal.sub and not principal.is_admin:
        raise hidden("订阅", recipient_id)
    if scope is not None and not principal.reads(scope):
        raise hidden("订阅", scope)
