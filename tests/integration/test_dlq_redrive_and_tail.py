"""Operators' tools against the real broker: dead letters redriven once, events tailed."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime

from shared.events.envelope import CloudEvent, EventPayload
from shared.events.needs import NeedRejected
from shared.events.volunteers import OrgUnitUpdated
from shared.kafka.consumer import ConsumerRunner, Handler
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.mongo.client import create_client
from shared.mongo.ledger import ProcessedEvents
from shared.ops.dlq import dlq_topics, list_dead_letters, redrive
from shared.ops.tail import EventFilter, tail
from shared.settings import Settings
from tests.helpers import eventually, org_event, read_topic, settings_env


async def tongxin(settings: Settings, *args: str, stdin: bytes = b"") -> tuple[int, str]:
    """`tongxin <args>` as an operator runs it: its own process, settings from the env."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shared.cli",
        *args,
        env=settings_env(settings),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await asyncio.wait_for(proc.communicate(stdin), 90)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


async def test_dead_letter_is_redriven_after_the_fix_and_handled_once(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    topic = settings.topics.volunteers
    handled: list[str] = []
    fixed = False

    async def handler(event: CloudEvent, payload: EventPayload) -> None:
        if not fixed and event.subject == "bad.path":
            raise ValueError("handler bug: cannot parse bad.path")
        handled.append(event.id)

    handlers: dict[str, Handler] = {OrgUnitUpdated.type: handler}
    producer = EventProducer(settings)
    await producer.start()
    mongo = create_client(settings)
    db = mongo[settings.database_name("redrivetest")]
    runner = ConsumerRunner(
        settings, "redrivetest", [topic], handlers, ProcessedEvents(db), producer
    )
    await runner.start()
    try:
        await asyncio.wait_for(runner.assigned.wait(), 30)
        bad, good = org_event("bad.path"), org_event("good.path")
        await producer.publish(topic, [bad, good])
        await read_topic(settings, settings.topics.dlq(topic), expect=1, timeout=20)
        await eventually(lambda: asyncio.sleep(0, result=good.id in handled))
        assert bad.id not in handled

        # The operator looks first: one pending dead letter, with its error.
        code, out = await tongxin(settings, "dlq", "list")
        assert code == 0, out
        assert "pending" in out and bad.id in out and "handler bug" in out
        assert "1 dead letter(s): 1 pending, 0 redriven" in out

        # Saying no at the prompt sends nothing.
        code, out = await tongxin(settings, "dlq", "redrive", stdin=b"n\n")
        assert code == 1 and "aborted" in out, out

        fixed = True  # the cause is fixed (a new release of the handler)
        code, out = await tongxin(settings, "dlq", "redrive", "--topic", "volunteers", stdin=b"y\n")
        assert code == 0, out
        assert "1 dead letter(s) to redrive" in out and f"redriven 1 ({topic}: 1)" in out

        await eventually(lambda: asyncio.sleep(0, result=bad.id in handled))
        # A second redrive finds nothing: the redrive group remembers what it sent.
        code, out = await tongxin(settings, "dlq", "redrive", "--yes")
        assert code == 0 and "redriven 0 (none pending)" in out, out
        letters = await list_dead_letters(settings, dlq_topics(settings))
        assert [(d.redriven, d.event and d.event.id) for d in letters] == [(True, bad.id)]

        # Handled exactly once, even when the redriven record arrives again.
        marker = org_event("marker.path")
        originals = await read_topic(settings, topic, expect=3)
        redriven = [r for r in originals if dict(r.headers).get("tongxin-redriven-from")]
        assert len(redriven) == 1 and redriven[0].value == bad.to_bytes()
        assert "tongxin-error" not in dict(redriven[0].headers)
        await producer.send_raw(topic, [(redriven[0].key, redriven[0].value, [])])
        await producer.publish(topic, [marker])
        await eventually(lambda: asyncio.sleep(0, result=marker.id in handled))
        assert handled.count(bad.id) == 1
    finally:
        await runner.stop()
        await producer.stop()
        await mongo.close()


async def test_redrive_asks_before_sending_and_sends_nothing_when_declined(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    producer = EventProducer(settings)
    await producer.start()
    try:
        event = org_event("a.b")
        dlq = settings.topics.dlq(settings.topics.volunteers)
        await producer.send_raw(
            dlq,
            [
                (
                    b"a.b",
                    event.to_bytes(),
                    [("tongxin-original-topic", settings.topics.volunteers.encode())],
                )
            ],
        )
        asked: list[int] = []
        sent = await redrive(
            settings, dlq_topics(settings), lambda p: asked.append(len(p)) or False
        )
        assert asked == [1] and sent == []
        sent = await redrive(settings, dlq_topics(settings, "volunteers"), lambda p: True)
        assert [d.event and d.event.id for d in sent] == [event.id]
        assert await redrive(settings, dlq_topics(settings), lambda p: True) == []
    finally:
        await producer.stop()


async def test_events_tail_prints_only_the_types_and_scope_asked_for(
    settings: Settings,
) -> None:
    await ensure_topics(settings)
    now = datetime.now(UTC)

    def rejected(need_id: str, community: str) -> CloudEvent:
        return CloudEvent.wrap(
            NeedRejected(
                need_id=need_id,
                community_id=community,
                category="other",
                kind="wish",
                reason="重复 / duplicate",
                requester_id="r",
                rejected_by="a",
                rejected_at=now,
            )
        )

    inside = rejected("n-in", "zhongshan.hongyan.dongfeng")
    outside = rejected("n-out", "futian.lianhua.x")
    producer = EventProducer(settings)
    await producer.start()
    try:
        await producer.publish(settings.topics.needs, [outside, inside])
        await producer.publish(
            settings.topics.volunteers, [org_event("zhongshan.hongyan.dongfeng")]
        )
        await producer.send_raw(settings.topics.notify, [(None, b"garbage", [])])
    finally:
        await producer.stop()

    lines: list[str] = []
    printed = await tail(
        settings,
        settings.topics.streams,
        EventFilter(types=("org.tongxin.need.*",), scope="zhongshan.hongyan"),
        lines.append,
        from_beginning=True,
        max_events=1,
        idle_timeout_s=10,
        as_json=True,
    )
    assert printed == 1
    assert [json.loads(line)["id"] for line in lines] == [inside.id]

    # Pretty output through the command line, unfiltered: non-CloudEvents are flagged.
    code, out = await tongxin(
        settings, "events", "tail", "--from-beginning", "--max", "4", "--idle-exit", "10"
    )
    assert code == 0, out
    assert out.count("org.tongxin.need.rejected") == 2 and "重复 / duplicate" in out
    assert "org.tongxin.org_unit.updated" in out and "not a CloudEvent (7 bytes)" in out
