"""A deliberately broken build for the checker's own test: the relay publishes and never
marks what it published, so every restart sends everything again.

Run as `python -m tests.faults.broken_relay serve needs --port N` in place of `shared.cli`.
"""

from __future__ import annotations

import asyncio
import sys

from shared import cli
from shared.events.envelope import CloudEvent
from shared.mongo import outbox
from shared.mongo.store import parse_events


async def _never_marked(self: outbox.Relay) -> int:
    markers = await self._outbox.markers.find({}).sort("seq", 1).to_list()
    stored = await self._outbox.stored(markers)
    markers = [m for m in markers if m["_id"] in stored]
    events = [e for m in markers for e in parse_events(m)]
    by_topic: dict[str, list[CloudEvent]] = {}
    for topic, event in events:
        by_topic.setdefault(topic, []).append(event)
    for topic, batch in by_topic.items():
        # a fresh producer session each pass, as a relay without memory would be
        self._producer._delivered.clear()
        await self._producer.publish(topic, batch)
    await asyncio.sleep(1)  # a copy a second is plenty for the checker to see
    return 0


outbox.Relay.publish_pending = _never_marked  # type: ignore[method-assign]

if __name__ == "__main__":
    sys.exit(cli.main())
