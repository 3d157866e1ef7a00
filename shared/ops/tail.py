"""`tongxin events tail`: the CloudEvents of any topic, filtered and printed for a person."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from pydantic import ValidationError

from shared.events.envelope import CloudEvent
from shared.kafka.connection import client_options
from shared.orgpath import OrgPath
from shared.settings import Settings

BOLD, DIM, RESET = "\033[1m", "\033[2m", "\033[0m"


@dataclass(frozen=True)
class EventFilter:
    """Event types (exact, or glob patterns like `org.tongxin.need.*`) and an org scope."""

    types: tuple[str, ...] = ()
    scope: str | None = None

    def matches(self, event: CloudEvent) -> bool:
        if self.types and not any(fnmatchcase(event.type, t) for t in self.types):
            return False
        return self.scope is None or OrgPath(self.scope).covers(event.community)

    @property
    def active(self) -> bool:
        return bool(self.types) or self.scope is not None


def format_event(
    event: CloudEvent, where: str, *, as_json: bool = False, color: bool = False
) -> str:
    """One event: a JSON line, or a header line and its indented data for a terminal."""
    if as_json:
        return event.model_dump_json()
    bold, dim, reset = (BOLD, DIM, RESET) if color else ("", "", "")
    header = (
        f"{event.time.isoformat()}  {bold}{event.type}{reset}  subject={event.subject}  "
        f"community={event.community}"
    )
    ids = (
        f"{dim}  id={event.id}  correlationid={event.correlationid}  "
        f"source={event.source}  [{where}]{reset}"
    )
    data = json.dumps(event.data, indent=2, ensure_ascii=False, sort_keys=True)
    return "\n".join([header, ids, *("  " + line for line in data.splitlines())])


def where_of(record: ConsumerRecord[bytes, bytes]) -> str:
    return f"{record.topic}/{record.partition}@{record.offset}"


def render_record(
    record: ConsumerRecord[bytes, bytes],
    event_filter: EventFilter,
    *,
    as_json: bool = False,
    color: bool = False,
) -> str | None:
    """What to print for one record, or None when the filter leaves it out."""
    try:
        event = CloudEvent.from_bytes(record.value or b"")
    except ValidationError:
        if event_filter.active:
            return None
        size = len(record.value or b"")
        return f"# {where_of(record)}: not a CloudEvent ({size} bytes)"
    if not event_filter.matches(event):
        return None
    return format_event(event, where_of(record), as_json=as_json, color=color)


async def tail(
    settings: Settings,
    topics: Sequence[str],
    event_filter: EventFilter,
    out: Callable[[str], None],
    *,
    from_beginning: bool = False,
    max_events: int | None = None,
    idle_timeout_s: float | None = None,
    as_json: bool = False,
    color: bool = False,
) -> int:
    """Prints matching events until stopped, `max_events` printed, or `idle_timeout_s` quiet.

    Reads without a consumer group: it commits nothing and disturbs no one.
    """
    consumer = AIOKafkaConsumer(
        *topics,
        **client_options(settings),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest" if from_beginning else "latest",
        request_timeout_ms=int(settings.kafka_timeout_s * 1000) + 30_000,
    )
    await asyncio.wait_for(consumer.start(), settings.kafka_timeout_s)
    printed = 0
    last_seen = time.monotonic()
    try:
        while max_events is None or printed < max_events:
            batch = await consumer.getmany(timeout_ms=200)
            if not batch:
                if idle_timeout_s is not None and time.monotonic() - last_seen > idle_timeout_s:
                    break
                continue
            last_seen = time.monotonic()
            records = sorted(
                (r for recs in batch.values() for r in recs), key=lambda r: r.timestamp
            )
            for record in records:
                text = render_record(record, event_filter, as_json=as_json, color=color)
                if text is None:
                    continue
                out(text)
                printed += 1
                if max_events is not None and printed >= max_events:
                    break
    finally:
        await consumer.stop()
    return printed
