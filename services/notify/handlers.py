"""Events and commands of the notify service → rules → repositories. Registry at the bottom."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from services.notify import policy
from services.notify.dispatcher import Dispatcher
from services.notify.domain import (
    Addressee,
    Audience,
    Preferences,
    Profile,
    Reason,
    Subscription,
    addressees,
    closes_need,
    match_volunteers,
    merge,
)
from services.notify.inbox import Inbox, item_seq
from services.notify.notifier import Notifier
from services.notify.repository import Profiles, ReadModel
from shared.auth import Principal
from shared.clock import Clock
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import (
    ClaimEvent,
    NeedApproved,
    NeedCancelled,
    NeedEvent,
    NeedPosted,
    NeedRejected,
    ProjectClaimed,
    ProjectClaimReleased,
    ReminderDue,
    TaskCompleted,
    TaskConfirmed,
)
from shared.events.notify import Channel as ChannelName
from shared.events.volunteers import (
    OrganizationRegistered,
    OrgUnitUpdated,
    PointsCredited,
    PointsRedeemed,
    TeamEvent,
    TeamFormed,
    TeamLeaderChanged,
    TeamMemberJoined,
    VolunteerRegistered,
    VolunteerUpdated,
)
from shared.http import ApiError, conflict
from shared.kafka.handlers import EventHandlers, on
from shared.settings import Settings


@dataclass
class NotifyDeps:
    settings: Settings
    clock: Clock
    read_model: ReadModel
    profiles: Profiles
    notifier: Notifier
    inbox: Inbox
    dispatcher: Dispatcher
    # Set once the in-memory state (volunteers, caps, last alerts) is loaded.
    loaded: asyncio.Event


# --- events ---------------------------------------------------------------------------------


async def on_need_event(deps: NotifyDeps, event: CloudEvent, payload: NeedEvent) -> None:
    need = await deps.read_model.apply_need(payload)
    team_ids: list[str | None] = [c.team_id for c in need.claims.values()]
    if isinstance(payload, ClaimEvent):
        team_ids.append(payload.team_id)
    if isinstance(payload, TaskConfirmed | TaskCompleted):
        team_ids += payload.team_ids
    teams = await deps.read_model.teams_by_id(team_ids)
    found = addressees(payload, need, teams)
    if isinstance(payload, NeedApproved):
        s = deps.settings
        matched = match_volunteers(
            payload,
            deps.read_model.members(payload.community_id),
            s.notify_match_radius_km,
            s.notify_max_recipients_per_need,
            deps.notifier.routes.last,
            s.notify_location_precision_km,
        )
        # Alerted as of now: the next need of this batch chooses among the others first.
        deps.notifier.routes.chosen([a.recipient_id for a in matched], deps.clock.now())
        found = merge([*found, *matched])
    await deps.notifier.notify(event, payload, found, need_title=need.title)
    if closes_need(payload):
        deps.notifier.close_need(payload.need_id)


async def on_volunteer(deps: NotifyDeps, event: CloudEvent, payload: VolunteerRegistered) -> None:
    deps.read_model.put_volunteer(payload)
    await deps.notifier.notify(event, payload, [])


async def on_team(deps: NotifyDeps, event: CloudEvent, payload: TeamEvent) -> None:
    await deps.read_model.apply_team(payload)
    await deps.notifier.notify(event, payload, [])


async def on_org_unit(deps: NotifyDeps, event: CloudEvent, payload: OrgUnitUpdated) -> None:
    await deps.read_model.put_org_unit(payload)
    await deps.notifier.notify(event, payload, [])


async def on_addressed(deps: NotifyDeps, event: CloudEvent, payload: EventPayload) -> None:
    """Events with no read model to update: their addressees and scope subscribers."""
    await deps.notifier.notify(event, payload, addressees(payload, None, {}))


async def on_reminder(deps: NotifyDeps, event: CloudEvent, payload: ReminderDue) -> None:
    """A reminder names its recipients: the claimers of a claim soon due, or the resident
    of a completion awaiting confirmation."""
    reason: Reason = "claimer" if payload.reason == "claim_due" else "requester"
    found = [Addressee(r, reason) for r in payload.recipient_ids]
    await deps.notifier.notify(event, payload, found)


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


async def mark_read(deps: NotifyDeps, principal: Principal, item_id: str) -> dict[str, Any]:
    item = await deps.inbox.get(item_id)
    if item is None or item.get("recipient_id") != principal.sub:
        raise policy.hidden("消息", item_id)
    return await deps.inbox.mark_read(item, deps.clock.now())


def stream_start(principal: Principal, recipient_id: str, last_event_id: str | None) -> int | None:
    """Checks the caller may follow this inbox (their own); the sequence to resume after."""
    policy.own_inbox(principal, recipient_id, None)
    if last_event_id and last_event_id.startswith(recipient_id + ":"):
        return item_seq(last_event_id)
    return None


# --- registry -------------------------------------------------------------------------------

EVENT_HANDLERS = EventHandlers[NotifyDeps](
    on(NeedPosted, on_need_event),
    on(NeedApproved, on_need_event),
    on(NeedRejected, on_need_event),
    on(NeedCancelled, on_need_event),
    on(ProjectClaimed, on_need_event),
    on(ProjectClaimReleased, on_need_event),
    on(TaskCompleted, on_need_event),
    on(TaskConfirmed, on_need_event),
    on(VolunteerRegistered, on_volunteer),
    on(VolunteerUpdated, on_volunteer),
    on(TeamFormed, on_team),
    on(TeamMemberJoined, on_team),
    on(TeamLeaderChanged, on_team),
    on(OrgUnitUpdated, on_org_unit),
    on(OrganizationRegistered, on_addressed),
    on(PointsCredited, on_addressed),
    on(PointsRedeemed, on_addressed),
    on(ReminderDue, on_reminder),
)
