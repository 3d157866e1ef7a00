"""Which events a relay still sends after finding some at the end of their topic."""

from __future__ import annotations

from shared.kafka.tail import not_yet_published
from tests.helpers import org_event


def test_events_found_on_the_topic_are_skipped_and_each_aggregate_keeps_its_order() -> None:
    a1, a2, a3 = org_event("a.b.c"), org_event("a.b.c"), org_event("a.b.c")
    b1, b2 = org_event("x.y.z"), org_event("x.y.z")
    events = [a1, b1, a2, b2, a3]
    assert not_yet_published(events, set()) == events
    assert not_yet_published(events, {a1.id, b1.id, a2.id}) == [b2, a3]
    # a later event there means the earlier ones of its aggregate were sent before it
    assert not_yet_published(events, {a2.id}) == [b1, b2, a3]
    assert not_yet_published(events, {e.id for e in events}) == []
