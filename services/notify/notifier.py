"""From an event and the people it concerns to deliveries: channels, route, message, digest."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.notify.delivery import DIGEST_TYPE, Delivery, delivery_id
from services.notify.dispatcher import Dispatcher
from services.notify.domain import (
    PEOPLE_CHANNELS,
    Addressee,
    Target,
    decide_route,
    digest_targets,
    local_day,
    merge,
    plan_channel,
    targets_for,
)
from services.notify.metrics import DELIVERIES_CREATED, DIGESTS, FOLDED
from services.notify.repository import AppendLog, Deliveries, Digests, Profiles, ReadModel, Routes
from services.notify.templates import Context, DigestLine, Message, render, render_digest
from shared.clock import Clock
from shared.events.envelope import CloudEvent, EventPayload
from shared.logging import get_logger
from shared.settings import Settings

log = get_logger(__name__)

# Recipients of one event worked on at once (each costs a few database round trips).
FAN_OUT = 8


@dataclass
class Notifier:
    settings: Settings
    clock: Clock
    read_model: ReadModel
    profiles: Profiles
    routes: Routes
    quota: AppendLog
    digests: Digests
    deliveries: Deliveries
    dispatcher: Dispatcher

    async def notify(
        self,
        event: CloudEvent,
        payload: EventPayload,
        found: Sequence[Addressee],
        need_title: str | None = None,
    ) -> None:
        """Everyone the event concerns, and the scope subscribers who asked for it, hear it."""
        subscribers = await self.profiles.scope_subscribers(event.community)
        everyone = merge([*found, *(Addressee(r, "subscriber") for r in subscribers)])
        if not everyone:
            return
        community_name = await self.read_model.org_unit_name(event.community)
        gate = asyncio.Semaphore(FAN_OUT)

        async def one(addressee: Addressee) -> None:
            async with gate:
                context = Context(need_title, community_name, addressee.distance_km)
                await self._notify_one(event, payload, addressee, context)

        results = await asyncio.gather(*(one(a) for a in everyone), return_exceptions=True)
        self.dispatcher.wake()
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]  # the handler is retried; what was done is not done twice

    async def _notify_one(
        self, event: CloudEvent, payload: EventPayload, addressee: Addressee, context: Context
    ) -> None:
        rid = addressee.recipient_id
        category = getattr(payload, "category", None)
        profile = await self.profiles.get(rid)
        targets = targets_for(addressee, profile, event.type, event.community, category)
        if not targets:
            return
        prefs = profile.prefs
        s = self.settings
        route = await self.routes.get(event.id, rid)
        if route is None:
            now = self.clock.now()
            over_cap = False
            if addressee.reason == "match" and any(t.channel in PEOPLE_CHANNELS for t in targets):
                day = local_day(now, prefs, s.timezone)
                slot = await self.quota.append(
                    f"{rid}:{day}",
                    {"event_id": event.id},
                    limit=s.notify_daily_need_messages_per_volunteer,
                )
                over_cap = slot is None
            route = decide_route(now, prefs, s.timezone, s.notify_digest_hour, over_cap)
            route = await self.routes.record(event.id, rid, route)
        message = render(
            event.type, addressee.reason, event.data, event.community, context, prefs.language
        )
        now = self.clock.now()
        folded = False
        for target in targets:
            plan, due = plan_channel(route, target.channel, now)
            if plan == "fold":
                folded = True
                continue
            need_id = getattr(payload, "need_id", None)
            await self.create(self._delivery(event, rid, need_id, target, message, due))
        if folded and route.period and route.digest_due_at:
            FOLDED.labels(route.mode).inc()
            line = {
                "event_id": event.id,
                "label": message.title,
                "text": context.need_title or event.data.get("title") or message.body,
                "community_id": event.community,
            }
            await self.digests.fold(rid, route.period, route.digest_due_at, line)

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

    # --- digests ---------------------------------------------------------------------------

    async def run_digests(self) -> None:
        """Builds the digests that came due (a background task of the service)."""
        while True:
            try:
                for period in await self.digests.due(self.clock.now()):
                    await self.build_digest(period["recipient_id"], period["period"])
            except Exception as exc:
                log.warning("digest_pass_failed", error=repr(exc))
            await asyncio.sleep(self.settings.notify_dispatch_poll_s)

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
