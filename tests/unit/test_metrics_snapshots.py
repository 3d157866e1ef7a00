"""The metrics projection brought up to date from a snapshot (services/metrics/handlers/
projection.py `_from_streams`), on in-memory facts: the facts that events committed since
the snapshot name are read again, newer versions win, and a range the streams no longer
hold is refused (the caller reads everything then)."""

from __future__ import annotations

from collections.abc import Mapping

from services.metrics.domain.facts import FactKind, NeedFact, VolunteerFact
from services.metrics.handlers.projection import FactCache
from tests.fakes import FakeFactStore
from tests.unit.test_service_layer import projection_on_fakes


class StreamsSaying:
    """What `FactSnapshots.touched` would read off the streams between two offsets."""

    def __init__(self, touched: set[tuple[FactKind, str]] | None) -> None:
        self.touched_keys = touched
        self.asked: list[tuple[dict[str, int], dict[str, int]]] = []

    async def touched(
        self, since: Mapping[str, int], until: Mapping[str, int]
    ) -> set[tuple[FactKind, str]] | None:
        self.asked.append((dict(since), dict(until)))
        return self.touched_keys


def need(fact_id: str, *applied: str) -> NeedFact:
    return NeedFact(id=fact_id, community="d.s.c", applied=list(applied))


async def test_the_facts_events_name_since_the_snapshot_are_read_again_newer_ones_win() -> None:
    projection, _, _ = projection_on_fakes()
    store = FakeFactStore()
    for version, applied in enumerate((["e1"], ["e1", "e2"], ["e1", "e2", "e3"]), 1):
        await store.insert("need", need("n1", *applied), version)
    await store.insert("need", need("n2", "e4"), 1)  # new since the snapshot
    await store.insert("volunteer", VolunteerFact(id="v1", community="d.s.c"), 1)
    await store.insert("volunteer", VolunteerFact(id="v1", community="d.s.x"), 2)
    cache = FactCache()  # as the snapshot left it
    cache.put("need", need("n1", "e1"), 1)
    cache.put("volunteer", VolunteerFact(id="v1", community="d.s.c"), 1)
    streams = StreamsSaying({("need", "n1"), ("need", "n2"), ("need", "n-gone")})
    projection.snapshots = streams  # type: ignore[assignment]

    assert await projection._from_streams(cache, store, {"t:0": 3}, {"t:0": 9})
    assert streams.asked == [({"t:0": 3}, {"t:0": 9})]
    n1, n2 = cache.get("need", "n1"), cache.get("need", "n2")
    assert n1 is not None and n1[1] == 3 and n1[0].applied == ["e1", "e2", "e3"]
    assert n2 is not None and n2[1] == 1
    assert cache.get("need", "n-gone") is None
    # a fact no event since names is not read: the snapshot's version stays
    v1 = cache.get("volunteer", "v1")
    assert v1 is not None and v1[1] == 1


async def test_a_range_the_streams_no_longer_hold_is_refused_and_nothing_changes() -> None:
    projection, _, _ = projection_on_fakes()
    store = FakeFactStore()
    await store.insert("need", need("n1", "e1"), 1)
    cache = FactCache()
    projection.snapshots = StreamsSaying(None)  # type: ignore[assignment]
    assert not await projection._from_streams(cache, store, {"t:0": 0}, {"t:0": 5})
    assert cache.get("need", "n1") is None
