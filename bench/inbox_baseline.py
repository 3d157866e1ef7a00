"""The notify fan-out baseline: the least work the job needs. It consumes the same records
as notify took (same topics, offsets, count), parses each (CloudEvent, then its typed
payload) and bulk-inserts one inbox document per recipient, one insert per fetched batch,
into a database of its own. Who the recipients of each event are is not its work: it is
given them, as notify addressed them in the round just measured (read from notify's inbox
by the harness, unmeasured).

Runs in a pinned child like the raw consumer
(`python -m bench.inbox_baseline --bootstrap ... --recipients FILE ...`), which prints one
JSON line: events, seconds, passes, documents inserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import ConsumerRecord
from pymongo import AsyncMongoClient

from bench.raw_kafka import Offsets, parse_offsets, read_passes, run_child
from shared.events.envelope import CloudEvent
from shared.events.registry import payload_of
from shared.mongo.client import Document

COLLECTION = "inbox"
_FILLER_BATCH = 1000


def inbox_document(event: CloudEvent, recipient_id: str, now: datetime) -> Document:
    """What an inbox item must hold to be shown: whom, what, where, when (no `_id`: the
    database gives one)."""
    data = event.data or {}
    return {
        "recipient_id": recipient_id,
        "event_id": event.id,
        "type": event.type,
        "subject": event.subject,
        "title": str(data.get("title") or event.type),
        "body": event.type,
        "need_id": data.get("need_id"),
        "community_id": event.community,
        "read": False,
        "created_at": now,
    }


async def _run(
    bootstrap: str,
    start: Offsets,
    count: int,
    min_seconds: float,
    recipients: dict[str, list[str]],
    mongodb_url: str,
    database: str,
) -> None:
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url)
    inbox = client[database][COLLECTION]
    await inbox.find_one({})  # connected before the clock starts
    inserted = 0

    async def on_batch(records: list[ConsumerRecord[Any, Any]]) -> None:
        nonlocal inserted
        now = datetime.now(UTC)
        docs: list[Document] = []
        for record in records:
            event = CloudEvent.from_bytes(record.value)
            payload_of(event)
            docs += [inbox_document(event, r, now) for r in recipients.get(event.id, ())]
        if docs:
            await inbox.insert_many(docs, ordered=False)
            inserted += len(docs)

    try:
        result = await read_passes(bootstrap, start, count, min_seconds, on_batch)
    finally:
        await client.close()
    print(json.dumps({**result, "inserted": inserted}), flush=True)


async def fill(mongodb_url: str, database: str, documents: int) -> int:
    """Brings the baseline's inbox to `documents` stored items (of other recipients), so that
    it inserts into a collection as large as notify's at the size under test."""
    client: AsyncMongoClient[Document] = AsyncMongoClient(mongodb_url, socketTimeoutMS=300_000)
    try:
        inbox = client[database][COLLECTION]
        have = int(await inbox.estimated_document_count())
        now = datetime.now(UTC)
        while have < documents:
            n = min(_FILLER_BATCH, documents - have)
            await inbox.insert_many(
                [
                    {
                        "recipient_id": f"filler-{(have + i) % 100_000}",
                        "event_id": f"filler-{have + i}",
                        "type": "filler",
                        "subject": "filler",
                        "title": "filler",
                        "body": "filler",
                        "community_id": "benchseed",
                        "read": False,
                        "created_at": now,
                    }
                    for i in range(n)
                ],
                ordered=False,
            )
            have += n
        return have
    finally:
        await client.close()


async def run_in_child(
    bootstrap: str,
    start: Offsets,
    count: int,
    min_seconds: float,
    recipients: dict[str, list[str]],
    mongodb_url: str,
    database: str,
    log_dir: Path,
) -> tuple[float, int | None, int]:
    """The baseline's rate (events/s) measured in a pinned child, its peak RSS (KiB) and the
    inbox documents it inserted per pass."""
    recipients_file = log_dir / "inbox-baseline-recipients.json"
    await asyncio.to_thread(_write, recipients_file, json.dumps(recipients))
    argv = [
        sys.executable,
        "-m",
        "bench.inbox_baseline",
        "--bootstrap",
        bootstrap,
        "--start",
        json.dumps(start),
        "--count",
        str(count),
        "--min-seconds",
        str(min_seconds),
        "--recipients",
        str(recipients_file),
        "--mongodb-url",
        mongodb_url,
        "--database",
        database,
    ]
    result, peak = await run_child("inbox-baseline", argv, log_dir)
    per_pass = int(result["inserted"]) // max(1, int(result["passes"]))
    return result["events"] / result["seconds"], peak, per_pass


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.inbox_baseline")
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--start", required=True, help='{"topic": {"partition": offset}}')
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--min-seconds", type=float, default=0.5)
    parser.add_argument("--recipients", required=True, help="JSON file: event id → recipients")
    parser.add_argument("--mongodb-url", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    out = open(args.out, "w", buffering=1)  # results go to a file: stdout is the child's log
    sys.stdout = out
    start = parse_offsets(args.start)
    recipients = json.loads(Path(args.recipients).read_text())
    asyncio.run(
        _run(
            args.bootstrap,
            start,
            args.count,
            args.min_seconds,
            recipients,
            args.mongodb_url,
            args.database,
        )
    )
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
