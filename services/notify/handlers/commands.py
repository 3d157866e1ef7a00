"""Commands of the notify service → rules → repositories (reads: queries.py; events: events.py)."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from services.notify.adapters.contacts import ContactConfirmations
from services.notify.adapters.inbox import Inbox
from services.notify.adapters.profiles import Profiles
from services.notify.adapters.read_model import ReadModel
from services.notify.domain import policy
from services.notify.domain.audience import Audience, Preferences, Profile, Subscription
from services.notify.handlers.dispatcher import Dispatcher
from services.notify.handlers.notifier import Notifier
from services.notify.settings import NotifySettings
from shared.auth import Principal
from shared.clock import Clock
from shared.errors import conflict
from shared.events.notify import Channel as ChannelName


@dataclass
class NotifyDeps:
    settings: NotifySettings
    clock: Clock
    read_model: ReadModel
    profiles: Profiles
    notifier: Notifier
    inbox: Inbox
    dispatcher: Dispatcher
    contacts: ContactConfirmations  # codes that verify an email or phone before it is used
    # Set once the in-memory state (volunteers, caps, last alerts) is loaded.
    loaded: asyncio.Event

    @classmethod
    def of(cls, notifier: Notifier, contacts: ContactConfirmations) -> NotifyDeps:
        """The handlers' dependencies: the notifier and the adapters it already holds."""
        return cls(
            settings=notifier.settings,
            clock=notifier.clock,
            read_model=notifier.read_model,
            profiles=notifier.profiles,
            notifier=notifier,
            inbox=notifier.inbox,
            dispatcher=notifier.dispatcher,
            contacts=contacts,
            loaded=asyncio.Event(),
        )


async def refresh_interests(deps: NotifyDeps, recipient_id: str) -> None:
    """Matching sees the recipient's current interests (preferences and subscriptions)."""
    profile = await deps.profiles.get(recipient_id)
    await deps.read_model.set_interests(recipient_id, profile.interests())


# --- commands -------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewSubscription:
    recipient_id: str
    channel: ChannelName
    target: str
    event_types: list[str]
    scope: str
    categories: list[str]
    audience: Audience | None
    secret: str | None


async def subscribe(
    deps: NotifyDeps, principal: Principal, new: NewSubscription
) -> tuple[Subscription, str | None]:
    """Creates the subscription; returns it with the webhook secret when one was generated
    (shown this once)."""
    audience = policy.subscription_audience(principal, new.recipient_id, new.scope, new.audience)
    if new.recipient_id != principal.sub:  # an admin subscribing a volunteer of their own
        known = await deps.read_model.volunteers.find_one({"_id": new.recipient_id})
        home = known.get("home_community_id") if known else None
        policy.require_recipient_in_scope(principal, home)
    profile = await deps.profiles.get(new.recipient_id)
    policy.require_below_cap(
        len(profile.subscriptions), deps.settings.notify_max_subscriptions_per_recipient
    )
    for existing in profile.subscriptions.values():
        if (
            existing.channel == new.channel
            and existing.target == new.target
            and existing.scope == new.scope
            and sorted(existing.event_types) == sorted(new.event_types)
            and sorted(existing.categories) == sorted(new.categories)
            and existing.audience == audience
        ):
            raise conflict("订阅已存在 / subscription exists", id=existing.id)
    generated = secrets.token_urlsafe(32) if new.channel == "webhook" and not new.secret else None
    sub = Subscription(
        id=str(uuid.uuid4()),
        recipient_id=new.recipient_id,
        channel=new.channel,
        target=new.target,
        event_types=sorted(set(new.event_types)),
        scope=new.scope,
        categories=sorted(set(new.categories)),
        audience=audience,
        secret=(new.secret or generated) if new.channel == "webhook" else None,
        created_by=principal.sub,
        created_at=deps.clock.now(),
    )
    await deps.profiles.add_subscription(sub)
    await refresh_interests(deps, sub.recipient_id)
    return sub, generated


async def unsubscribe(deps: NotifyDeps, principal: Principal, subscription_id: str) -> None:
    sub = await deps.profiles.subscription(subscription_id)
    if sub is None or not policy.may_manage(principal, sub):
        raise policy.hidden("订阅", subscription_id)
    await deps.profiles.remove_subscription(sub)
    await refresh_interests(deps, sub.recipient_id)


async def preferences(deps: NotifyDeps, principal: Principal, recipient_id: str) -> Preferences:
    policy.own_preferences(principal, recipient_id)
    return (await deps.profiles.get(recipient_id)).prefs


async def set_preferences(
    deps: NotifyDeps, principal: Principal, recipient_id: str, prefs: Preferences
) -> Preferences:
    policy.own_preferences(principal, recipient_id)

    def replace(profile: Profile) -> Profile:
        return profile.model_copy(update={"preferences": prefs})

    await deps.profiles.update(recipient_id, replace)
    await refresh_interests(deps, recipient_id)
    return prefs


async def mark_read(deps: NotifyDeps, principal: Principal, item_id: str) -> dict[str, Any]:
    item = await deps.inbox.get(item_id)
    if item is None or item.get("recipient_id") != principal.sub:
        raise policy.hidden("消息", item_id)
    return await deps.inbox.mark_read(item, deps.clock.now())
