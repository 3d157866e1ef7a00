"""The dispatcher: sends due deliveries through their channels, retries, gives up, resumes.

Deliveries created due now arrive already leased for their first attempt and are sent at
once; everything else (retries, quiet hours, whatever a crash left pending) is found by
sweeping the queue of pending deliveries. A lease is taken by a commit, so of two
dispatchers (two replicas, or a sweep racing a retry) only one sends an attempt.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping, Sequence
from datetime import timedelta

from services.notify.adapters.channels import Channel, DeliveryError, Notification
from services.notify.adapters.deliveries import Deliveries
from services.notify.adapters.profiles import Profiles
from services.notify.domain.delivery import Delivery, retry_delay_s
from services.notify.metrics import DELIVERY_SECONDS, NOTIFICATIONS, PENDING
from services.notify.settings import NotifySettings
from shared.aio import nap
from shared.clock import Clock
from shared.events.envelope import CONTENT_TYPE, EventPayload
from shared.kafka.deadletter import dead_letter_headers
from shared.kafka.producer import EventProducer
from shared.logging import get_logger, log_context
from shared.mongo.store import ConcurrencyConflict
from shared.settings import Topics
from shared.visibility import mask_target

log = get_logger(__name__)


class Dispatcher:
    def __init__(
        self,
        settings: NotifySettings,
        clock: Clock,
        deliveries: Deliveries,
        profiles: Profiles,
        channels: Mapping[str, Channel],
        producer: EventProducer,
    ) -> None:
        self._s = settings
        self._clock = clock
        self._deliveries = deliveries
        self._profiles = profiles
        self._channels = channels
        self._producer = producer
        # Each channel sends through its own slots and sweeps its own backlog: a webhook that
        # times out or an SMTP server that hangs holds back only its own channel.
        self._slots = {c: asyncio.Semaphore(settings.notify_dispatch_concurrency) for c in channels}
        self._inflight: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wakeup = asyncio.Event()
        self._stopping = False
        # No send outlives this; a lease outlives any send, so it never ends mid-attempt.
        self.send_timeout_s = max(settings.notify_webhook_timeout_s, settings.smtp_timeout_s) + 5
        self.lease = timedelta(seconds=2 * self.send_timeout_s + 10)

    def wake(self) -> None:
        self._wakeup.set()

    @property
    def accepting(self) -> bool:
        """False once stopping: what is created now waits in the queue for the next start."""
        return not self._stopping

    def submit(self, delivery: Delivery, version: int) -> None:
        """Sends a delivery this process just created, leased for its first attempt."""
        self._spawn(delivery.id, (delivery, version))

    async def run(self) -> None:
        """The sweep loop (a background task of the service)."""
        failures = 0
        try:
            while True:
                try:
                    await self.sweep()
                    failures = 0
                except Exception as exc:
                    failures += 1
                    log.warning("dispatch_sweep_failed", error=repr(exc), failures=failures)
                    await asyncio.sleep(min(5.0, 0.2 * 2**failures))
                await nap(self._wakeup, self._s.notify_dispatch_poll_s)
        finally:
            self._stopping = True
            for task in list(self._tasks):
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def stop_sending(self) -> None:
        """From now on nothing is started, and a send that fails is not counted."""
        self._stopping = True

    async def sweep(self) -> int:
        """Starts every due delivery not already in hand; returns how many it started."""
        now = self._clock.now()
        per_channel = 4 * self._s.notify_dispatch_concurrency
        found = await asyncio.gather(
            *(self._deliveries.due(now, per_channel, c) for c in [*self._channels, None])
        )
        started = 0
        for doc in (d for docs in found for d in docs):
            if doc["_id"] not in self._inflight:
                self._spawn(doc["_id"], None)
                started += 1
        PENDING.set(await self._deliveries.pending())
        return started

    async def idle(self) -> bool:
        """Nothing in hand and nothing due (tests and shutdown use this)."""
        return not self._inflight and not await self._deliveries.due(self._clock.now(), 1)

    def _spawn(self, delivery_id: str, known: tuple[Delivery, int] | None) -> None:
        if self._stopping or delivery_id in self._inflight:
            return
        self._inflight.add(delivery_id)
        task = asyncio.create_task(self._run_one(delivery_id, known))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run_one(self, delivery_id: str, known: tuple[Delivery, int] | None) -> None:
        channel = delivery_id.rpartition(":")[2]
        try:
            async with self._slots.get(channel) or self._slots["inapp"]:
                with log_context(notification_id=delivery_id):
                    await self._deliver(delivery_id, known)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The lease runs out and a later sweep tries again.
            log.warning("delivery_pass_failed", error=repr(exc))
        finally:
            self._inflight.discard(delivery_id)

    async def _deliver(self, delivery_id: str, known: tuple[Delivery, int] | None) -> None:
        now = self._clock.now()
        send_by = now + timedelta(seconds=self.send_timeout_s)
        if known is not None and known[0].lease_until and send_by < known[0].lease_until:
            delivery, version = known
        else:
            loaded, version = await self._deliveries.load(delivery_id)
            if loaded is None or loaded.status != "pending":
                await self._deliveries.dequeue(delivery_id)
                return
            if loaded.attempts >= self._s.notify_max_attempts and not loaded.leased(now):
                # The last attempt failed but its outcome was never stored.
                await self._give_up(loaded, version, loaded.last_error or "attempts exhausted")
                return
            if not loaded.ready(now):
                return
            delivery = loaded.start_attempt(now, self.lease)
            try:
                version = await self._deliveries.save(delivery, version, requeue=False)
            except ConcurrencyConflict:
                return  # another dispatcher took this attempt
        await self._attempt(delivery, version)

    async def _attempt(self, delivery: Delivery, version: int) -> None:
        channel = self._channels[delivery.channel]
        notification = await self._notification(delivery)
        started = time.perf_counter()
        try:
            await asyncio.wait_for(channel.send(notification), self.send_timeout_s)
        except Exception as exc:
            if self._stopping:
                # the service is stopping (its clients closing): not an attempt; the delivery
                # stays pending and the next life sends it
                log.info("notification_left_for_restart", error=repr(exc))
                return
            DELIVERY_SECONDS.labels(delivery.channel).observe(time.perf_counter() - started)
            permanent = isinstance(exc, DeliveryError) and exc.permanent
            error = str(exc) if isinstance(exc, DeliveryError) else f"{type(exc).__name__}: {exc}"
            delay = retry_delay_s(
                delivery.attempts, self._s.notify_retry_base_s, self._s.notify_retry_max_s
            )
            after, failed = delivery.attempt_failed(
                self._clock.now(), error, self._s.notify_max_attempts, delay, permanent
            )
            if failed is not None:
                await self._dead_letter(after, error)
                NOTIFICATIONS.labels(delivery.channel, "failed").inc()
                log.warning("notification_failed", error=error, attempts=delivery.attempts)
            else:
                NOTIFICATIONS.labels(delivery.channel, "retried").inc()
                log.info("notification_retry", error=error, attempt=delivery.attempts, delay=delay)
                asyncio.get_running_loop().call_later(delay, self.wake)
            await self._store_outcome(after, version, [failed] if failed else [])
            return
        DELIVERY_SECONDS.labels(delivery.channel).observe(time.perf_counter() - started)
        done, delivered = delivery.succeeded(self._clock.now())
        await self._store_outcome(done, version, [delivered])
        NOTIFICATIONS.labels(delivery.channel, "delivered").inc()

    async def _give_up(self, delivery: Delivery, version: int, error: str) -> None:
        failed, event = delivery.give_up(self._clock.now(), error)
        await self._dead_letter(failed, error)
        await self._store_outcome(failed, version, [event])
        NOTIFICATIONS.labels(delivery.channel, "failed").inc()

    async def _store_outcome(
        self, delivery: Delivery, version: int, events: Sequence[EventPayload]
    ) -> None:
        try:
            await self._deliveries.save(delivery, version, events)
        except ConcurrencyConflict:
            # Our lease ran out and another dispatcher took the next attempt: its outcome counts.
            log.warning("delivery_outcome_superseded", notification_id=delivery.id)

    async def _notification(self, delivery: Delivery) -> Notification:
        secret = None
        if delivery.channel == "webhook" and delivery.subscription_id:
            sub = await self._profiles.subscription(delivery.subscription_id)
            secret = sub.secret if sub is not None else None
        return Notification(
            delivery_id=delivery.id,
            recipient_id=delivery.recipient_id,
            channel=delivery.channel,
            target=delivery.target,
            title=delivery.title,
            body=delivery.body,
            event_id=delivery.event_id,
            event_type=delivery.event_type,
            subject=delivery.subject,
            need_id=delivery.need_id,
            community_id=delivery.community_id,
            created_at=delivery.created_at,
            attempt=delivery.attempts,
            event_json=delivery.event_json,
            secret=secret,
        )

    async def _dead_letter(self, delivery: Delivery, error: str) -> None:
        """The notify stream's dead-letter topic gets what could not be delivered: the event
        (or, for messages built here, the notification) with why, in headers."""
        record = delivery.model_dump(mode="json", exclude={"event_json"})
        record["target"] = mask_target(delivery.channel, delivery.target)
        if delivery.target:  # a channel's error may quote its target
            error = error.replace(delivery.target, record["target"])
        body = delivery.event_json or json.dumps(record, ensure_ascii=False)
        headers = [("content-type", CONTENT_TYPE.encode())]
        headers += dead_letter_headers(
            error,
            "NotificationFailed",
            delivery.attempts,
            notification_id=delivery.id,
            recipient=delivery.recipient_id,
            channel=delivery.channel,
            source_event_type=delivery.event_type,
        )
        await self._producer.send_raw(
            Topics.dlq(self._s.topics.notify), [(delivery.subject.encode(), body.encode(), headers)]
        )
