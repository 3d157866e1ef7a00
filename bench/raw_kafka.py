"""The Kafka baselines: raw aiokafka produce, consume and produce→consume round trip.

The harness produces in its own process; consuming runs in a child process pinned like the
services (`python -m bench.raw_kafka consume|roundtrip ...`), which prints one JSON line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition

from bench.procs import BenchProcess
from shared.events.envelope import CONTENT_TYPE, CloudEvent

Offsets = dict[str, dict[int, int]]


@dataclass(frozen=True)
class Produced:
    events: int
    seconds: float
    start_offsets: Offsets

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    # The same delivery guarantees as shared.kafka.producer.EventProducer.
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=5
    )


async def produce(
    bootstrap: str, messages: Sequence[tuple[str, CloudEvent]], extra_header: str | None = None
) -> Produced:
    """Sends (topic, event) pairs as the services do (key = subject, structured mode) and
    waits for every acknowledgement; the time covers sending only, not serialising."""
    encoded = [(t, e.subject.encode(), e.to_bytes()) for t, e in messages]
    header = [("content-type", CONTENT_TYPE.encode())]
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        started = time.perf_counter()
        futures = []
        for topic, key, value in encoded:
            headers = header
            if extra_header:
                headers = [*header, (extra_header, repr(time.time()).encode())]
            futures.append(await producer.send(topic, value=value, key=key, headers=headers))
        metas = await asyncio.gather(*futures)
        seconds = time.perf_counter() - started
    finally:
        await producer.stop()
    first: Offsets = defaultdict(dict)
    for m in metas:
        first[m.topic][m.partition] = min(first[m.topic].get(m.partition, m.offset), m.offset)
    return Produced(len(encoded), seconds, dict(first))


# What a reader does with each fetched batch of records (the inbox baseline's work).
OnBatch = Callable[[list[ConsumerRecord[Any, Any]]], Awaitable[None]]


async def read_passes(
    bootstrap: str, start: Offsets, count: int, min_seconds: float, on_batch: OnBatch | None
) -> dict[str, float]:
    """Reads the `count` records from `start` as fast as aiokafka can (handing each fetched
    batch to `on_batch`), again and again until `min_seconds` have passed, so that a short
    batch still gives a steady rate."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(t, p) for t, parts in start.items() for p in parts]
        consumer.assign(partitions)
        total, passes = 0, 0
        began = time.perf_counter()
        while True:
            for tp in partitions:
                consumer.seek(tp, start[tp.topic][tp.partition])
            got = 0
            while got < count:
                batch = await consumer.getmany(timeout_ms=5000, max_records=500)
                if not batch:
                    raise RuntimeError(f"only {got} of {count} records arrived")
                records = [r for rs in batch.values() for r in rs][: count - got]
                if on_batch is not None:
                    await on_batch(records)
                got += len(records)
            total += got
            passes += 1
            elapsed = time.perf_counter() - began
            if elapsed >= min_seconds:
                break
        return {"events": total, "seconds": elapsed, "passes": passes}
    finally:
        await consumer.stop()


async def _consume(bootstrap: str, start: Offsets, count: int, min_seconds: float) -> None:
    print(json.dumps(await read_passes(bootstrap, start, count, min_seconds, None)), flush=True)


async def _roundtrip(
    bootstrap: str, topic: str, partition_count: int, count: int, header: str
) -> None:
    """Waits at the end of `topic`, says READY, then times each of `count` records from the
    send time in its header to its arrival."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(partition_count)]
        consumer.assign(partitions)
        await consumer.seek_to_end(*partitions)
        for tp in partitions:
            await consumer.position(tp)
        print("READY", flush=True)
        latencies: list[float] = []
        sent: list[float] = []
        last = 0.0
        while len(latencies) < count:
            batch = await consumer.getmany(timeout_ms=30_000)
            if not batch:
                raise RuntimeError(f"only {len(latencies)} of {count} records arrived")
            now = time.time()
            for records in batch.values():
                for r in records:
                    at = float(dict(r.headers or [])[header].decode())
                    sent.append(at)
                    latencies.append(now - at)
            last = now
        print(json.dumps({"latencies": latencies, "total": last - min(sent)}), flush=True)
    finally:
        await consumer.stop()


async def consume_in_child(
    bootstrap: str, start: Offsets, count: int, min_seconds: float, log_dir: Path
) -> tuple[float, int | None]:
    """The raw consume rate (events/s) measured in a pinned child, and its peak RSS (KiB)."""
    argv = [
        sys.executable,
        "-m",
        "bench.raw_kafka",
        "consume",
        "--bootstrap",
        bootstrap,
        "--start",
        json.dumps(start),
        "--count",
        str(count),
        "--min-seconds",
        str(min_seconds),
    ]
    result, peak = await run_child("raw-consumer", argv, log_dir)
    return result["events"] / result["seconds"], peak


async def run_child(
    name: str, argv: list[str], log_dir: Path, timeout: float = 120
) -> tuple[dict[str, Any], int | None]:
    import os

    out_path = log_dir / f"{name}.out"
    proc = BenchProcess(name, [*argv, "--out", str(out_path)], dict(os.environ), log_dir)
    deadline = time.monotonic() + timeout
    while proc.alive() and time.monotonic() < deadline:
        proc.sample_peak()
        await asyncio.sleep(0.05)
    peak = proc.stop()
    try:
        return json.loads(out_path.read_text().strip().splitlines()[-1]), peak
    except (OSError, IndexError, ValueError) as exc:
        raise RuntimeError(f"{name} failed:\n{proc.log_tail()}") from exc


class RoundTrip:
    """A pinned child waiting at the end of a topic, timing a burst the harness sends."""

    HEADER = "bench-sent-at"

    def __init__(
        self, bootstrap: str, topic: str, partitions: int, count: int, log_dir: Path
    ) -> None:
        import os

        self.out_path = log_dir / "roundtrip.out"
        self.out_path.unlink(missing_ok=True)
        argv = [
            sys.executable,
            "-m",
            "bench.raw_kafka",
            "roundtrip",
            "--bootstrap",
            bootstrap,
            "--topic",
            topic,
            "--partitions",
            str(partitions),
            "--count",
            str(count),
            "--out",
            str(self.out_path),
        ]
        self.proc = BenchProcess("roundtrip", argv, dict(os.environ), log_dir)

    async def ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not (self.out_path.exists() and "READY" in self.out_path.read_text()):
            if not self.proc.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"round-trip consumer not ready:\n{self.proc.log_tail()}")
            await asyncio.sleep(0.05)

    async def result(self, timeout: float = 120) -> dict[str, Any]:
        try:
            await asyncio.to_thread(self.proc.proc.wait, timeout)
        except subprocess.TimeoutExpired:
            pass  # stopped below; its output says what arrived
        self.proc.stop()
        lines = [ln for ln in self.out_path.read_text().splitlines() if ln.startswith("{")]
        if not lines:
            raise RuntimeError(f"round trip failed:\n{self.proc.log_tail()}")
        result: dict[str, Any] = json.loads(lines[-1])
        return result


def parse_offsets(text: str) -> Offsets:
    """`--start` of a child: `{"topic": {"partition": offset}}` with partitions as ints."""
    return {t: {int(p): o for p, o in parts.items()} for t, parts in json.loads(text).items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.raw_kafka")
    sub = parser.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("consume")
    c.add_argument("--bootstrap", required=True)
    c.add_argument("--start", required=True, help='{"topic": {"partition": offset}}')
    c.add_argument("--count", type=int, required=True)
    c.add_argument("--min-seconds", type=float, default=0.5)
    c.add_argument("--out", required=True)
    r = sub.add_parser("roundtrip")
    r.add_argument("--bootstrap", required=True)
    r.add_argument("--topic", required=True)
    r.add_argument("--partitions", type=int, required=True)
    r.add_argument("--count", type=int, required=True)
    r.add_argument("--out", required=True)
    args = parser.parse_args(argv)
    # Results go to a file: stdout of a child is its log.
    out = open(args.out, "w", buffering=1)
    sys.stdout = out
    if args.cmd == "consume":
        start = parse_offsets(args.start)
        asyncio.run(_consume(args.bootstrap, start, args.count, args.min_seconds))
    else:
        asyncio.run(
            _roundtrip(args.bootstrap, args.topic, args.partitions, args.count, RoundTrip.HEADER)
        )
    out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
