"""Commands of the needs service → domain rules → repository."""

from __future__ import annotations

from dataclasses import dataclass

from services.needs import domain
from services.needs.domain import Need
from services.needs.repository import NeedsRepository
from shared.mongo.outbox import Relay


@dataclass
class NeedsDeps:
    repo: NeedsRepository
    relay: Relay


async def post_need(deps: NeedsDeps, need: Need, correlation_id: str | None) -> Need:
    posted, events = domain.post_need(need)
    await deps.repo.save(posted, 0, events, correlation_id)
    deps.relay.wake()
    return posted
