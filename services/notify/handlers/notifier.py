"""From an event and the people it concerns to deliveries: channels, route, message, digest.

Long because turning one event into deliveries (channels, routes, messages, digests) is one use
case told in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from services.notify.adapters.deliveries import Deliveries
from services.notify.adapters.digests import Bursts, Digests
from services.notify.adapters.inbox import Inbox
from services.notify.adapters.profiles import Profiles
from services.notify.adapters.read_model import ReadModel
from services.notify.adapters.routes import Routes
from services.notify.domain.audience import (
    PEOPLE_CHANNELS,
    Addressee,
    Profile,
    Route,
    Target,
    decide_route,
    digest_targets,
    local_day,
    merge,
    plan_channel,
    targets_for,
)
from services.notify.domain.delivery import DIGEST_TYPE, SUMMARY_TYPE, Delivery, delivery_id
from services.notify.domain.templates import (
    Context,
    DigestLine,
    Message,
    community_name,
    render,
    render_burst,
    render_digest,
)
from services.notify.handlers.dispatcher import Dispatcher
from services.notify.metrics import DELIVERIES_CREATED, DIGESTS, DROPPED, FOLDED, NOTIFICATIONS
from services.notify.settings import NotifySettings
from shared.clock import Clock
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import NeedApproved
from shared.logging import get_logger
from shared.mongo.client import Document
from shared.mongo.store import ConcurrencyConflict

log = get_logger(__name__)


@dataclass(frozen=True)
class Pending:
    """An event handled in the consumer's batch, and the people it concerns."""

    event: CloudEvent
    payload: EventPayload
    found: list[Addressee]
    need_title: str | None


# Whom an event reaches, on which channels, as decided by a flush.
Plan = tuple[Pending, Addressee, Profile, list[Target]]


@dataclass
class Notifier:
    settings: NotifySettings
    clock: Clock
    read_model: ReadModel
    profiles: Profiles
    routes: Routes
    digests: Digests
    deliveries: Deliveries
    inbox: Inbox
    dispatcher: Dispatcher
    bursts: Bursts

    def __post_init__(self) -> None:
        # What the consumer's current batch has to tell, in order, and the needs it closed:
        # written together by `flush`.
        self._pending: list[Pending] = []
        self._closed: list[str] = []
        # A burst's summary is counted and its window closed while no batch is deciding
        # about (and storing into) the same windows.
        self._bursts_lock = asyncio.Lock()

    async def notify(
        self,
        event: CloudEvent,
        payload: EventPayload,
        found: Sequence[Addressee],
        need_title: str | None = None,
    ) -> None:
        """Everyone the event concerns, and the scope subscribers who asked for it, hear it:
        at the end of the consumer's batch (`flush`), with the batch's other events."""
        self._pending.append(Pending(event, payload, list(found), need_title))

    def close_need(self, need_id: str) -> None:
        """The need takes no more volunteers: its pending invitations are dropped at `flush`,
        after this batch's own invitations are made."""
        self._closed.append(need_id)

    async def flush(self) -> None:
        """Tells what the batch's events asked for, then drops the invitations of the needs
        they closed. Decided per event, in order, written in bulk for the whole batch: the
        recipients' profiles read side by side, routes and caps decided in memory and stored
        in one insert, in-app deliveries stored delivered with their inbox items (a few bulk
        writes for all), the other channels handed to the dispatcher. Should a write fail,
        the batch is told again (as a redelivery would be): every write dedups by id."""
        pending, closed = self._pending, self._closed
        self._pending, self._closed = [], []
        try:
            if pending:
                await self._tell(pending)
            if closed:
                await self.drop_invitations(*dict.fromkeys(closed))
        except BaseException:
            self._pending[:0] = pending
            self._closed[:0] = closed
            raise

    async def _tell(self, pending: Sequence[Pending]) -> None:
        communities = list(dict.fromkeys(p.event.community for p in pending))
        subscribers, names = await asyncio.gather(
            asyncio.gather(*(self.profiles.scope_subscribers(c) for c in communities)),
            asyncio.gather(*(self.read_model.org_unit_name(c) for c in communities)),
        )
        by_community = dict(zip(communities, subscribers, strict=True))
        name_of = dict(zip(communities, names, strict=True))
        audiences = [
            merge(
                [*p.found, *(Addressee(r, "subscriber") for r in by_community[p.event.community])]
            )
            for p in pending
        ]
        recipient_ids = list(dict.fromkeys(a.recipient_id for e in audiences for a in e))
        if not recipient_ids:
            return
        profiles, _ = await asyncio.gather(
            self.profiles.get_many(recipient_ids), self.inbox.learn(recipient_ids)
        )
        now = self.clock.now()
        window = timedelta(seconds=self.settings.notify_burst_window_s)
        async with self._bursts_lock:
            plans, decided = await self._decide(pending, audiences, profiles, now, window)
        if not plans:
            return
        routes = await self.routes.record(decided, now)
        inapp: list[Delivery] = []
        later: list[Delivery] = []
        folds: list[Awaitable[None]] = []
        for p, a, profile, targets in plans:
            event, rid = p.event, a.recipient_id
            route = routes[(event.id, rid)]
            context = Context(p.need_title, name_of[event.community], a.distance_km)
            message = render(
                event.type, a.reason, event.data, event.community, context, profile.prefs.language
            )
            need_id = getattr(p.payload, "need_id", None)
            folded = False
            for target in targets:
                plan, due = plan_channel(route, target.channel, now)
                if plan == "fold":
                    folded = True
                    continue
                d = self._delivery(event, rid, need_id, target, message, due)
                (inapp if target.channel == "inapp" and due <= now else later).append(d)
            if folded and route.period and route.digest_due_at:
                FOLDED.labels(route.mode).inc()
                line = {
                    "event_id": event.id,
                    "label": message.title,
                    "text": context.need_title or event.data.get("title") or message.body,
                    "community_id": event.community,
                }
                folds.append(self.digests.fold(rid, route.period, route.digest_due_at, line))
        await asyncio.gather(self.deliver_inapp(inapp), *(self.create(d) for d in later), *folds)
        if later:  # in-app ones are delivered already: nothing for the dispatcher
            self.dispatcher.wake()

    async def _decide(
        self,
        pending: Sequence[Pending],
        audiences: Sequence[list[Addressee]],
        profiles: dict[str, Profile],
        now: datetime,
        window: timedelta,
    ) -> tuple[list[Plan], dict[tuple[str, str], tuple[Route, str | None]]]:
        """Per event in order, per recipient: channels, burst windows, caps and the route;
        the burst windows opened and events counted are stored before this returns."""
        s = self.settings
        plans: list[Plan] = []
        decided: dict[tuple[str, str], tuple[Route, str | None]] = {}
        opened: list[Document] = []
        counted: list[Document] = []
        for p, everyone in zip(pending, audiences, strict=True):
            event = p.event
            category = getattr(p.payload, "category", None)
            for a in everyone:
                profile = profiles[a.recipient_id]
                targets = targets_for(a, profile, event.type, event.community, category)
                if targets and a.reason == "subscriber":
                    # A subscriber's people channels hear a burst once (webhooks: every event).
                    key = self.bursts.key(a.recipient_id, event.type, event.community)
                    if self.bursts.is_open(key, opened_by=event.id):
                        counted.append({"_id": f"{key}|{event.id}", "key": key})
                        targets = [t for t in targets if t.channel not in PEOPLE_CHANNELS]
                    else:
                        self.bursts.open(key, now + window, event.id)
                        opened.append(
                            {
                                "_id": key,
                                "recipient_id": a.recipient_id,
                                "type": event.type,
                                "community_id": event.community,
                                "first_event_id": event.id,
                                "due_at": now + window,
                            }
                        )
                if not targets:
                    continue
                plans.append((p, a, profile, targets))
                day: str | None = None
                over_cap = False
                if a.reason == "match" and any(t.channel in PEOPLE_CHANNELS for t in targets):
                    day = local_day(now, profile.prefs, s.timezone)
                    cap = s.notify_daily_need_messages_per_volunteer
                    over_cap = not self.routes.reserve(a.recipient_id, day, now, cap)
                    day = None if over_cap else day
                route = decide_route(now, profile.prefs, s.timezone, s.notify_digest_hour, over_cap)
                decided[(event.id, a.recipient_id)] = (route, day)
        await self.bursts.record(opened, counted)
        return plans, decided

    async def deliver_inapp(self, deliveries: Sequence[Delivery]) -> None:
        """In-app deliveries, delivered in their first commit: each takes its inbox item's id,
        all are committed together with their `notification.delivered`, then the items are
        written (one insert). An event that came again finds its deliveries stored and
        writes any item a crash left unwritten."""
        if not deliveries:
            return
        now = self.clock.now()
        ids = await self.inbox.next_ids([d.recipient_id for d in deliveries])
        made = [d.delivered_in_inbox(now, i) for d, i in zip(deliveries, ids, strict=True)]
        stored = await self.deliveries.create_delivered(made)
        placed = [d for (d, _), ok in zip(made, stored, strict=True) if ok]
        again = [d for (d, _), ok in zip(made, stored, strict=True) if not ok]
        for d in again:
            self.inbox.unused(d.inbox_id or "")
        if again:
            existing = await asyncio.gather(*(self.deliveries.load(d.id) for d in again))
            placed += [e for e, _ in existing if e is not None and e.inbox_id is not None]
        await self.inbox.place(placed)
        new = sum(stored)
        if new:
            DELIVERIES_CREATED.labels("inapp").inc(new)
            NOTIFICATIONS.labels("inapp", "delivered").inc(new)

    def _delivery(
        self,
        event: CloudEvent,
        recipient_id: str,
        need_id: str | None,
        target: Target,
        message: Message,
        due_at: datetime,
    ) -> Delivery:
        now = self.clock.now()
        return Delivery(
            id=delivery_id(event.id, recipient_id, target.channel),
            event_id=event.id,
            event_type=event.type,
            subject=event.subject,
            need_id=need_id,
            community_id=event.community,
            correlation_id=event.correlationid,
            recipient_id=recipient_id,
            channel=target.channel,
            target=target.target,
            subscription_id=target.subscription_id,
            title=message.title,
            body=message.body,
            event_json=event.model_dump_json() if target.channel == "webhook" else None,
            due_at=due_at,
            created_at=now,
        )

    async def create(self, delivery: Delivery) -> None:
        """Stores the delivery once; one due now is leased and handed to the dispatcher."""
        now = self.clock.now()
        if delivery.ready(now) and self.dispatcher.accepting:
            delivery = delivery.start_attempt(now, self.dispatcher.lease)
        version = await self.deliveries.create(delivery)
        if version is None:
            return  # created before: this event came again
        DELIVERIES_CREATED.labels(delivery.channel).inc()
        if delivery.leased(now):
            self.dispatcher.submit(delivery, version)

    async def drop_invitations(self, *need_ids: str) -> int:
        """Pending invitations to needs that closed are dropped (those being sent this moment
        go out); returns how many. One read of the queue for all of them."""
        now = self.clock.now()
        dropped = 0
        for doc in await self.deliveries.pending_for_needs(need_ids):
            delivery, version = await self.deliveries.load(doc["_id"])
            if delivery is None or delivery.status != "pending" or delivery.leased(now):
                continue
            if delivery.event_type != NeedApproved.type:
                continue
            try:
                await self.deliveries.save(delivery.drop(), version)
                dropped += 1
            except ConcurrencyConflict:
                continue  # a dispatcher took it this moment
        if dropped:
            DROPPED.inc(dropped)
        return dropped

    # --- digests ---------------------------------------------------------------------------

    async def run_digests(self) -> None:
        """Builds the digests and burst summaries that came due (a background task)."""
        while True:
            try:
                for period in await self.digests.due(self.clock.now()):
                    await self.build_digest(period["recipient_id"], period["period"])
                for burst in await self.bursts.due(self.clock.now()):
                    await self.build_summary(burst)
            except Exception as exc:
                log.warning("digest_pass_failed", error=repr(exc))
            await asyncio.sleep(self.settings.notify_dispatch_poll_s)

    async def build_summary(self, burst: Document) -> None:
        """One message for the events a burst window counted (with its first, sent as it
        came): "和平社区新报到志愿者 3,018 名". Its id comes from the window, so a pass
        repeated after a crash sends nothing twice."""
        async with self._bursts_lock:
            await self._summarise(burst)

    async def _summarise(self, burst: Document) -> None:
        key, rid = burst["_id"], burst["recipient_id"]
        more = await self.bursts.count(key)
        if more:
            community = burst["community_id"]
            profile = await self.profiles.get(rid)
            name = community_name(community, await self.read_model.org_unit_name(community))
            message = render_burst(burst["type"], name, more + 1, profile.prefs.language)
            summary = CloudEvent(
                id=f"summary:{key}:{burst['first_event_id']}",
                source="/tongxin/notify",
                type=SUMMARY_TYPE,
                subject=burst["type"],
                time=self.clock.now(),
                dataschema="urn:tongxin:notify:summary:v1",
                community=community,
                correlationid=f"summary:{burst['first_event_id']}",
                data={"recipient_id": rid, "type": burst["type"], "count": more + 1},
            )
            for target in digest_targets(profile):
                await self.create(
                    self._delivery(summary, rid, None, target, message, self.clock.now())
                )
            self.dispatcher.wake()
        await self.bursts.close(key)

    async def build_digest(self, recipient_id: str, period: str) -> None:
        lines = await self.digests.lines_of(recipient_id, period)
        if lines:
            profile = await self.profiles.get(recipient_id)
            message = render_digest(
                period, [DigestLine(d["label"], d["text"]) for d in lines], profile.prefs.language
            )
            digest = CloudEvent(
                id=f"digest:{recipient_id}:{period}",
                source="/tongxin/notify",
                type=DIGEST_TYPE,
                subject=period,
                time=self.clock.now(),
                dataschema="urn:tongxin:notify:digest:v1",
                community=lines[0].get("community_id") or "",
                correlationid=f"digest:{recipient_id}:{period}",
                data={"recipient_id": recipient_id, "period": period, "count": len(lines)},
            )
            for target in digest_targets(profile):
                await self.create(
                    self._delivery(digest, recipient_id, None, target, message, self.clock.now())
                )
            DIGESTS.inc()
            self.dispatcher.wake()
        await self.digests.close(recipient_id, period)
