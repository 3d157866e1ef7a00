"""A subscriber of the Tongxin event stream, written the way another system would write it.

It depends on nothing of Tongxin's code: only aiokafka and json. What it shows:

- its own consumer group (`--group`), so it gets every event, whatever the services do;
- it reads from the beginning the first time (auto_offset_reset="earliest"), then resumes
  where its group left off;
- it deduplicates by the CloudEvent `id`: Kafka delivers at least once, and a producer may
  publish an event again after a crash, so the same id can arrive twice. The ids it has seen
  are kept in a file (`--seen-file`) so that this holds across restarts too;
- it reads only the attributes and fields it needs and ignores the rest, so new fields and
  new event types never break it;
- it commits its offsets after handling a batch (at-least-once, made effectively-once by the
  dedup above).

Run it against the local broker (`make infra-up`):

    python examples/subscriber.py --bootstrap localhost:9092 --topic tongxin.needs.v1

or, against a deployment, as your SCRAM user on your district's topic (docs/subscribing.md):

    TONGXIN_SUBSCRIBER_PASSWORD=... python examples/subscriber.py --bootstrap kafka:9092 \
        --user zsportal --group zsportal.example --topic tongxin.d.zhongshan.v1

It prints one line per new event: time, type, subject (the need id), community, id.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

WANTED_PREFIX = "org.tongxin."


class SeenIds:
    """The event ids already handled: in memory, and appended to a file if one is given."""

    def __init__(self, path: Path | None) -> None:
        self._path = path
        self._ids: set[str] = set()
        if path is not None and path.exists():
            self._ids = {line.strip() for line in path.read_text().splitlines() if line.strip()}

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def add(self, event_id: str) -> None:
        self._ids.add(event_id)
        if self._path is not None:
            with self._path.open("a") as f:
                f.write(event_id + "\n")


def handle(event: dict[str, Any]) -> None:
    """What this subscriber does with an event: here, print it. Put your own logic here."""
    data = event.get("data") or {}
    title = data.get("title")  # present on need.posted / need.approved only; ignored elsewhere
    line = (
        f"{event.get('time', '?')}  {event['type']:<36}  subject={event.get('subject')}  "
        f"community={event.get('community')}  id={event['id']}"
    )
    print(line + (f"  title={title}" if title else ""), flush=True)


def parse(raw: bytes | None) -> dict[str, Any] | None:
    """A CloudEvent in structured JSON mode, or None for anything else (skipped, not fatal)."""
    try:
        event = json.loads(raw or b"")
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(event, dict) or not event.get("id") or not event.get("type"):
        return None
    return event


async def run(args: argparse.Namespace) -> None:
    sasl: dict[str, Any] = {}
    if args.user:  # SASL/SCRAM as the user the platform's operators gave you
        sasl = {
            "security_protocol": "SASL_SSL" if args.tls else "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": args.user,
            "sasl_plain_password": os.environ["TONGXIN_SUBSCRIBER_PASSWORD"],
        }
    consumer = AIOKafkaConsumer(
        *args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",  # a new group starts at the oldest event
        enable_auto_commit=False,  # commit after handling, below
        isolation_level="read_committed",  # district topics are written in transactions
        **sasl,
    )
    seen = SeenIds(args.seen_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await consumer.start()
    print(f"# subscribed to {', '.join(args.topic)} as group {args.group}", flush=True)
    try:
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = parse(record.value)
                    if event is None:
                        print(
                            f"# skipped a record that is not a CloudEvent: {record.topic}"
                            f"/{record.partition}@{record.offset}",
                            file=sys.stderr,
                        )
                        continue
                    if not str(event["type"]).startswith(WANTED_PREFIX) or event["id"] in seen:
                        continue
                    handle(event)
                    seen.add(event["id"])
            if batch:
                await consumer.commit()
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="Print Tongxin events, each once.")
    parser.add_argument("--bootstrap", default="localhost:9092", help="Kafka bootstrap servers")
    parser.add_argument(
        "--topic", action="append", help="topic to read; repeatable (default tongxin.needs.v1)"
    )
    parser.add_argument("--group", default="example-subscriber", help="this subscriber's group")
    parser.add_argument("--seen-file", type=Path, help="where to remember the ids already seen")
    parser.add_argument(
        "--user", help="SCRAM user (password in $TONGXIN_SUBSCRIBER_PASSWORD); none: PLAINTEXT"
    )
    parser.add_argument("--tls", action="store_true", help="with --user: SASL_SSL")
    args = parser.parse_args()
    args.topic = args.topic or ["tongxin.needs.v1"]
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
