"""What every service runs besides its routes: Mongo, producer, relay, consumer, readiness.

A service's app.py builds its FastAPI app with `create_service_app`, passing a `wire`
function that builds the service's repository and handlers on the runtime and returns
the event handlers its consumer subscribes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Depends, FastAPI

from shared.docs import install_docs
from shared.http import (
    RequestContextMiddleware,
    document_common_errors,
    health_router,
    install_error_handlers,
)
from shared.kafka.consumer import ConsumerRunner, Handler
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.logging import configure_logging, get_logger
from shared.mongo.client import Database, create_client
from shared.mongo.indexes import Index, declare_indexes
from shared.mongo.lease import Lease, replica_id
from shared.mongo.ledger import ProcessedEvents
from shared.mongo.outbox import Relay
from shared.ratelimit import RateLimits, StreamSlots, rate_limited
from shared.settings import Settings
from shared.supervisor import fault_hooks, supervise

log = get_logger(__name__)

BackgroundTask = Callable[[], Coroutine[Any, Any, None]]
STOP_WAIT_S = 10.0


class Runtime:
    def __init__(self, service: str, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self.mongo = create_client(settings)
        self.db: Database = self.mongo[settings.database_name(service)]
        self.producer = EventProducer(settings)
        # One replica's relay publishes the outbox at a time: a second one would send copies.
        self.relay = Relay(
            self.db,
            self.producer,
            service,
            settings.relay_poll_s,
            settings.relay_batch_size,
            Lease(self.db, "relay", replica_id(), settings.relay_lease_s),
            settings.relay_scan_s,
        )
        self.ledger = ProcessedEvents(self.db)
        self.consumer: ConsumerRunner | None = None
        self._background: list[BackgroundTask] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._checks: dict[str, Callable[[], str | None]] = {}

    def _subscribe(self, streams: list[str], handlers: Mapping[str, Handler]) -> None:
        """The service's consumer reads these streams and hands these event types on; the
        processed-event ledger makes each event's effect happen once."""
        topics = [self.settings.topics.for_stream(s) for s in streams]
        self.consumer = ConsumerRunner(
            self.settings, self.service, topics, handlers, self.ledger, self.producer
        )

    def _subscribe_in_batches(
        self,
        streams: list[str],
        handlers: Mapping[str, Handler],
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        """A batch-flush consumer (`ConsumerRunner.batch_flush`): the handlers gather, `flush`
        stores a batch's effects before its offsets are committed, deduplicating by the
        event ids its writes record."""
        topics = [self.settings.topics.for_stream(s) for s in streams]
        self.consumer = ConsumerRunner.batch_flush(
            self.settings, self.service, topics, handlers, self.producer, flush
        )

    def require(self, name: str, check: Callable[[], str | None]) -> None:
        """Not ready while `check` says what is missing (for state the service must load)."""
        self._checks[name] = check

    def run_in_background(self, task: BackgroundTask) -> None:
        self._background.append(task)

    def serve(
        self,
        app: FastAPI,
        deps: object,
        streams: list[str],
        handlers: Mapping[str, Handler],
        *,
        background: Sequence[BackgroundTask] = (),
        ready: Mapping[str, Callable[[], str | None]] | None = None,
        indexes: Sequence[Index] = (),
        flush: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """The wiring every consuming service shares: its deps on `app.state.deps`, its
        consumer (a batch-flush one when `flush` is given), its background tasks, its
        readiness checks, then its Mongo indexes."""
        app.state.deps = deps
        if flush is None:
            self._subscribe(streams, handlers)
        else:
            self._subscribe_in_batches(streams, handlers, flush)
        for task in background:
            self.run_in_background(task)
        for name, check in (ready or {}).items():
            self.require(name, check)
        if indexes:
            self.run_in_background(partial(declare_indexes, self.db, indexes))

    async def start(self, wait_s: float = 60.0) -> None:
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            try:
                if self.settings.kafka_create_topics:
                    await ensure_topics(self.settings)
                await self.producer.start()
                break
            except (KafkaError, TimeoutError, OSError) as exc:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                log.warning("kafka_not_ready_yet", error=repr(exc))
                await asyncio.sleep(1)
        if self.consumer is not None:
            await self.consumer.start()
        if self.settings.relay_enabled:
            self.relay.start()
        self._tasks = [asyncio.create_task(t()) for t in self._background]
        # a relay or consumer loop that dies while the service runs is started again
        relay = self.relay if self.settings.relay_enabled else None
        self._tasks.append(asyncio.create_task(supervise(self.service, relay, self.consumer)))
        log.info("service_started", topics=self.settings.topics.streams)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=STOP_WAIT_S)
            for task in stuck:  # a stop must end even if a task ignored its cancellation
                log.error("background_task_did_not_stop", task=task.get_name())
        if self.consumer is not None:
            await self.consumer.stop()
        await self.relay.stop()
        await self.producer.stop()
        await self.mongo.close()
        log.info("service_stopped")

    async def liveness(self) -> dict[str, str]:
        """Empty while the process can still recover by itself; otherwise why it cannot."""
        after = self.settings.consumer_stall_restart_after_s
        stalled = self.consumer.stalled(after) if self.consumer is not None else []
        if stalled:
            return {
                "consumer_stalled": f"消费停滞超过 {after:.0f} 秒 / stalled past {after:.0f} s "
                f"on: {', '.join(stalled)}"
            }
        return {}

    async def readiness(self) -> dict[str, str]:
        """Empty when ready; otherwise what is wrong, by dependency."""
        problems: dict[str, str] = {}
        try:
            await asyncio.wait_for(self.db.command("ping"), 2.0)
        except Exception as exc:
            problems["mongodb"] = f"MongoDB unreachable: {type(exc).__name__}: {exc}"[:300]
        try:
            await self.producer.ping(2.0)
        except Exception as exc:
            problems["kafka"] = f"Kafka unreachable: {type(exc).__name__}: {exc}"[:300]
        stalled = self.consumer.stalled() if self.consumer is not None else []
        if stalled:
            problems["consumer_stalled"] = (
                f"消费停滞 / no progress with work waiting on: {', '.join(stalled)}"
            )
        for name, check in self._checks.items():
            missing = check()
            if missing:
                problems[name] = missing
        return problems


Wiring = Callable[[FastAPI, Runtime], Awaitable[None]]


def create_service_app(
    service: str,
    settings: Settings,
    *,
    title: str,
    description: str,
    routers: list[APIRouter],
    wire: Wiring,
    **fastapi_kwargs: Any,
) -> FastAPI:
    """The FastAPI app of one service; `wire` runs in the lifespan, before start."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, settings.log_format, service)
        runtime = Runtime(service, settings)
        app.state.runtime = runtime
        await wire(app, runtime)
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=title,
        description=description,
        lifespan=lifespan,
        dependencies=[Depends(rate_limited)],
        docs_url=None,
        redoc_url=None,
        **fastapi_kwargs,
    )
    install_docs(app)  # offline Swagger UI with an Authorize button
    app.state.settings = settings
    app.state.rate_limits = RateLimits(settings)
    app.state.stream_slots = StreamSlots(settings.sse_streams_per_user)
    app.state.service = service
    install_error_handlers(app)

    async def readiness() -> dict[str, str]:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        return {"service": "starting"} if runtime is None else await runtime.readiness()

    async def liveness() -> dict[str, str]:
        runtime: Runtime | None = getattr(app.state, "runtime", None)
        return {} if runtime is None else await runtime.liveness()

    app.include_router(
        health_router(
            readiness,
            settings.metrics_scrape_token,
            token_required=settings.profile == "prod",
            liveness=liveness,
        )
    )
    for router in routers:
        app.include_router(router)
    if settings.fault_hooks:  # tests/faults only; refused in the prod profile
        app.include_router(fault_hooks())
    document_common_errors(app)
    app.add_middleware(
        RequestContextMiddleware,
        service=service,
        max_body_bytes=settings.max_body_bytes,
        max_header_bytes=settings.max_header_bytes,
    )
    return app
