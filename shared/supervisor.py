"""The supervisor of a service's relay and consumer loops, and the faults suite's hook.

A loop that ends while its service runs (a bug that escaped its handling, a cancellation) is
started again within a second, and counted (`tongxin_task_restarts_total`). Until then the
consumer reads as stalled, so /readyz says why. The hook, `POST /internal/faults/{task}`,
exists only with `TONGXIN_FAULT_HOOKS` on (refused in the prod profile): tests/faults uses it
to cancel a loop under load and check nothing is lost and the loop is back quickly.
"""

from __future__ import annotations

import asyncio
from typing import Literal

from aiokafka.errors import KafkaError
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from shared.kafka.consumer import ConsumerRunner
from shared.logging import get_logger
from shared.metrics import TASK_RESTARTS
from shared.mongo.outbox import Relay

log = get_logger(__name__)

SUPERVISE_EVERY_S = 0.5


async def supervise(service: str, relay: Relay | None, consumer: ConsumerRunner | None) -> None:
    """Runs until cancelled: restarts the relay or consumer loop that died."""
    while True:
        await asyncio.sleep(SUPERVISE_EVERY_S)
        if relay is not None and relay.died:
            log.error("task_restarted", task="relay")
            TASK_RESTARTS.labels(service, "relay").inc()
            relay.start()
        if consumer is not None and consumer.died:
            try:
                await consumer.restart()
            except (KafkaError, TimeoutError, OSError) as exc:
                log.warning("task_restart_failed", task="consumer", error=repr(exc))
                continue  # still dead: tried again on the next round
            log.error("task_restarted", task="consumer")
            TASK_RESTARTS.labels(service, "consumer").inc()


def fault_hooks() -> APIRouter:
    """Test-only: cancels the relay or consumer loop of this process as a crash would."""
    router = APIRouter(include_in_schema=False)

    @router.post("/internal/faults/{task}")
    async def cancel(task: Literal["relay", "consumer"], request: Request) -> JSONResponse:
        runtime = getattr(request.app.state, "runtime", None)
        loop = None if runtime is None else (runtime.relay if task == "relay" else runtime.consumer)
        if loop is None:
            return JSONResponse({"cancelled": None}, status_code=404)
        loop.abort()
        log.warning("fault_hook_cancelled", task=task)
        return JSONResponse({"cancelled": task}, status_code=202)

    return router
