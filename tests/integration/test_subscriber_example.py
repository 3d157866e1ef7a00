"""examples/subscriber.py, run as its own process against the local Kafka."""

from __future__ import annotations

import asyncio
import re
import signal
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shared.events.envelope import CloudEvent
from shared.events.needs import (
    NeedApproved,
    NeedPosted,
    ProjectClaimed,
    TaskCompleted,
    TaskConfirmed,
    VolunteerHours,
)
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBER = ROOT / "examples" / "subscriber.py"
COMMUNITY = "zhongshan.hongyan.dongfeng"


def lifecycle(need_id: str) -> list[CloudEvent]:
    """posted → approved → claimed → completed → confirmed, as the needs service publishes it."""
    t0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
    need = {"need_id": need_id, "community_id": COMMUNITY, "category": "elderly_care"}
    correlation = f"corr-{need_id}"
    payloads = [
        NeedPosted(
            **need,
            kind="wish",
            title="给独居老人买年货",
            slots=1,
            beneficiaries=1,
            requester_id="r1",
            posted_by="r1",
            status="pending_review",
            posted_at=t0,
        ),
        NeedApproved(
            **need,
            kind="wish",
            title="给独居老人买年货",
            slots=1,
            requester_id="r1",
            approved_by="admin1",
            posted_at=t0,
            approved_at=t0 + timedelta(hours=1),
        ),
        ProjectClaimed(
            **need,
            kind="wish",
            claim_id="c1",
            claimant_type="volunteer",
            volunteer_ids=["v1"],
            slots=1,
            slots_total=1,
            slots_taken=1,
            need_status="claimed",
            requester_id="r1",
            claimed_by="v1",
            posted_at=t0,
            claimed_at=t0 + timedelta(hours=2),
        ),
        TaskCompleted(
            **need,
            kind="wish",
            completion_id="done1",
            claim_ids=["c1"],
            volunteer_ids=["v1"],
            hours=[VolunteerHours(volunteer_id="v1", hours=2.5)],
            beneficiaries_served=1,
            goods_count=3,
            funds_cents=12_000,
            requester_id="r1",
            completed_by="v1",
            posted_at=t0,
            completed_at=t0 + timedelta(days=1),
        ),
        TaskConfirmed(
            **need,
            kind="wish",
            completion_id="done1",
            rating=5,
            volunteer_ids=["v1"],
            confirmed_by="r1",
            confirmed_at=t0 + timedelta(days=2),
        ),
    ]
    return [CloudEvent.wrap(p, correlation_id=correlation) for p in payloads]


class Subscriber:
    """The example as a subprocess; its stdout lines collected as they come."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.lines: list[str] = []

    @classmethod
    async def start(cls, settings: Settings, group: str, seen_file: Path) -> Subscriber:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            str(SUBSCRIBER),
            "--bootstrap",
            settings.kafka_bootstrap,
            "--topic",
            settings.topics.needs,
            "--group",
            group,
            "--seen-file",
            str(seen_file),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc)

    async def wait_for(self, needle: str, timeout: float = 45.0) -> None:
        assert self.proc.stdout is not None
        deadline = time.monotonic() + timeout
        while not any(needle in line for line in self.lines):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.proc.returncode is not None:
                raise AssertionError(f"subscriber never printed {needle!r}: {self.lines}")
            try:
                raw = await asyncio.wait_for(self.proc.stdout.readline(), remaining)
            except TimeoutError:
                continue
            if not raw:
                await self.proc.wait()
                continue
            self.lines.append(raw.decode().rstrip("\n"))

    async def stop(self) -> str:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        out, err = await asyncio.wait_for(self.proc.communicate(), 30)
        self.lines += out.decode().splitlines()
        assert self.proc.returncode == 0, err.decode()
        return err.decode()

    def printed_ids(self) -> list[str]:
        return [m.group(1) for line in self.lines if (m := re.search(r" id=(\S+)", line))]


async def test_example_subscriber_receives_a_needs_whole_lifecycle_once_each(
    settings: Settings, tmp_path: Path
) -> None:
    await ensure_topics(settings, [settings.topics.needs])
    events = lifecycle("need-lifecycle-1")
    posted, approved, *_, confirmed = events
    # A field and an attribute the subscriber has never heard of: it must ignore both.
    posted = posted.model_copy(
        update={"data": {**posted.data, "added_later": {"x": 1}}, "priority": "high"}
    )
    producer = EventProducer(settings)
    await producer.start()
    try:
        topic = settings.topics.needs
        await producer.publish(topic, [posted, approved, approved])  # approved delivered twice
        await producer.send_raw(topic, [(b"need-lifecycle-1", b"not json at all", [])])
        await producer.publish(topic, events[2:])

        group = f"{settings.consumer_group_prefix}.example-subscriber"
        seen_file = tmp_path / "seen-ids"
        first = await Subscriber.start(settings, group, seen_file)
        try:
            await first.wait_for(confirmed.id)  # same key, one partition: everything before too
        finally:
            stderr = await first.stop()
        assert first.printed_ids() == [e.id for e in events]
        assert "org.tongxin.task.confirmed" in first.lines[-1]
        assert "not a CloudEvent" in stderr

        # After a restart: a redelivered event is still recognised, new ones still arrive.
        follow_up = lifecycle("need-lifecycle-2")[0]
        await producer.publish(topic, [confirmed])
        # keyed like `confirmed`: same partition, so it is read after the redelivery
        key = confirmed.subject.encode()
        await producer.send_raw(topic, [(key, follow_up.to_bytes(), [])])
        second = await Subscriber.start(settings, group, seen_file)
        try:
            await second.wait_for(follow_up.id)
        finally:
            await second.stop()
        assert second.printed_ids() == [follow_up.id]
    finally:
        await producer.stop()
