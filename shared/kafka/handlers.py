"""What reacts to which event, keyed by payload class: the one way a service declares its
event handlers (at the bottom of its handlers.py) and binds them to its dependencies.

    EVENT_HANDLERS = EventHandlers(
        on(OrgUnitUpdated, on_org_unit_updated),
        on(VolunteerRegistered, on_volunteer),
    )
    runtime.serve(app, deps, STREAMS, EVENT_HANDLERS.bind(deps))

A handler takes the service's dependencies, the CloudEvent and its payload, typed as the
class it is registered for (mypy checks the pairing; the runner validated the payload)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.events.envelope import CloudEvent, EventPayload
from shared.events.registry import EVENT_TYPES
from shared.kafka.consumer import Handler

D = TypeVar("D")
P = TypeVar("P", bound=EventPayload)


@dataclass(frozen=True)
class Binding(Generic[D]):
    payload: type[EventPayload]
    handler: Callable[[D, CloudEvent, Any], Awaitable[None]]


def on(payload: type[P], handler: Callable[[D, CloudEvent, P], Awaitable[None]]) -> Binding[D]:
    """`handler` handles events whose payload is `payload`."""
    if EVENT_TYPES.get(payload.type) is not payload:
        raise ValueError(f"{payload.__name__} is not the registered class of {payload.type}")
    return Binding(payload, handler)


class EventHandlers(Generic[D]):
    def __init__(self, *bindings: Binding[D]) -> None:
        self._bindings: dict[str, Binding[D]] = {}
        for b in bindings:
            if b.payload.type in self._bindings:
                raise ValueError(f"two handlers for {b.payload.type}")
            self._bindings[b.payload.type] = b

    @property
    def payloads(self) -> list[type[EventPayload]]:
        return [b.payload for b in self._bindings.values()]

    def bind(self, deps: D, ready: asyncio.Event | None = None) -> Mapping[str, Handler]:
        """The handlers for the consumer runner, by event type, each given `deps`; with
        `ready` (state the service loads at start), each first waits until it is set."""
        return {t: _bound(deps, b, ready) for t, b in self._bindings.items()}


def _bound(deps: D, binding: Binding[D], ready: asyncio.Event | None) -> Handler:
    async def handle(event: CloudEvent, payload: EventPayload) -> None:
        if ready is not None:
            await ready.wait()
        await binding.handler(deps, event, payload)

    return handle
