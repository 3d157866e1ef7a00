"""Snapshots of in-memory read models (shared.mongo.snapshots) and the list index's rows
(shared.list_snapshot), on an in-memory collection: versioned, never torn by a crash or a
second writer, ignored when of another format."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo.errors import AutoReconnect

from services.needs.domain.listing import ListedNeed, listed_need
from services.volunteers.domain.listing import ListedVolunteer, listed_volunteer
from shared.list_snapshot import entry_of_row, fingerprint, row_of
from shared.mongo import snapshots
from shared.mongo.snapshots import SnapshotStore
from tests.fakes import FakeCollection, FakeDatabase

T0 = datetime(2026, 12, 1, 8, 30, 15, 123000, tzinfo=UTC)
NAIVE = T0.replace(tzinfo=None)  # how the store gives times back (in UTC)


def store(db: FakeDatabase, name: str = "needs_list", format_: str = "f1") -> SnapshotStore:
    return SnapshotStore(db, name, format_)  # type: ignore[arg-type]


def collection(db: FakeDatabase) -> FakeCollection:
    return db.collections[snapshots.COLLECTION]


def rows(n: int, tag: str = "a", t0: datetime = NAIVE) -> list[Any]:
    return [
        [f"{tag}{i}", i, t0 + timedelta(seconds=i), [["within", "d.s"], ["person", "p"]]]
        for i in range(n)
    ]


async def test_a_saved_snapshot_loads_with_its_rows_offsets_and_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshots, "ROWS_PER_CHUNK", 3)
    db = FakeDatabase()
    assert await store(db).load() is None
    assert await store(db).save(rows(10), {"0": 5, "1": 0, "2": 17})
    loaded = await store(db).load()
    assert loaded is not None
    assert (
        loaded.rows == rows(10) and loaded.offsets == {"0": 5, "1": 0, "2": 17} and loaded.seq == 1
    )
    assert len(collection(db).docs) == 1 + 4  # the pointer and ceil(10 / 3) chunks


async def test_a_chunk_over_the_size_bound_is_split(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(snapshots, "CHUNK_BYTES", 200)
    chunks = await snapshots.chunks(rows(40))
    assert len(chunks) > 1 and all(len(c) <= 200 for c in chunks)
    assert [r for c in chunks for r in snapshots.decode(c)] == rows(40)


async def test_a_crash_mid_snapshot_leaves_the_previous_one_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(snapshots, "ROWS_PER_CHUNK", 2)
    db = FakeDatabase()
    assert await store(db).save(rows(5, "old"), {"0": 1})
    collection(db).fail_inserts_after = 1  # one chunk of the next snapshot, then the crash
    with pytest.raises(AutoReconnect):
        await store(db).save(rows(5, "new"), {"0": 9})
    collection(db).fail_inserts_after = None
    loaded = await store(db).load()
    assert loaded is not None and loaded.rows == rows(5, "old") and loaded.offsets == {"0": 1}
    # the next snapshot is written whole beside the torn one's chunk, and becomes the newest
    assert await store(db).save(rows(5, "new"), {"0": 9})
    loaded = await store(db).load()
    assert loaded is not None and loaded.rows == rows(5, "new") and loaded.seq == 2


async def test_of_two_writers_at_once_one_moves_the_pointer_and_the_other_cleans_up() -> None:
    db = FakeDatabase()
    assert await store(db).save(rows(3, "first"), {"0": 1})
    one, other = store(db), store(db)
    real_find = collection(db).find_one
    pointers: list[Any] = []

    async def both_read_the_pointer_first(query: Any, projection: Any = None) -> Any:
        found = await real_find(query, projection)
        if query == {"_id": "needs_list"} and len(pointers) < 2:
            pointers.append(found)
            if len(pointers) == 1:  # the other writer saves between this read and our move
                assert await other.save(rows(3, "other"), {"0": 3})
                return pointers[0]
        return found

    collection(db).find_one = both_read_the_pointer_first  # type: ignore[method-assign]
    assert not await one.save(rows(3, "one"), {"0": 2})
    collection(db).find_one = real_find  # type: ignore[method-assign]
    loaded = await store(db).load()
    assert loaded is not None and loaded.rows == rows(3, "other") and loaded.offsets == {"0": 3}
    # the loser's chunk is gone: the pointer and the two snapshots kept (other's, first's)
    assert len(collection(db).docs) == 3


async def test_only_the_newest_two_snapshots_are_kept() -> None:
    db = FakeDatabase()
    for n in range(5):
        assert await store(db).save(rows(2, f"s{n}"), {"0": n})
    assert len(collection(db).docs) == 1 + 2
    loaded = await store(db).load()
    assert loaded is not None and loaded.rows == rows(2, "s4") and loaded.seq == 5


async def test_a_dropped_snapshot_leaves_nothing_of_its_name() -> None:
    db = FakeDatabase()
    for n in range(3):
        assert await store(db).save(rows(2, f"s{n}"), {"0": n})
    assert await store(db, name="volunteers_list").save(rows(2), {"0": 1})
    await store(db, format_="any other").drop()
    assert await store(db).load() is None
    assert [k for k in collection(db).docs if str(k).startswith("needs_list")] == []
    assert await store(db, name="volunteers_list").load() is not None


async def test_a_snapshot_of_another_format_or_name_is_not_read() -> None:
    db = FakeDatabase()
    assert await store(db, format_="f1").save(rows(2), {"0": 1})
    assert await store(db, format_="f2").load() is None
    assert await store(db, name="volunteers_list", format_="f1").load() is None


async def test_a_load_that_loses_its_chunks_to_newer_snapshots_reads_the_pointer_again() -> None:
    db = FakeDatabase()
    assert await store(db).save(rows(2, "a"), {"0": 1})
    real_find = collection(db).find_one
    raced = False

    async def two_newer_snapshots_meanwhile(query: Any, projection: Any = None) -> Any:
        nonlocal raced
        found = await real_find(query, projection)
        if query == {"_id": "needs_list"} and not raced:
            raced = True
            collection(db).find_one = real_find  # type: ignore[method-assign]
            for tag in ("b", "c"):  # the second deletes the chunks of the pointer we read
                assert await store(db).save(rows(2, tag), {"0": 2})
        return found

    collection(db).find_one = two_newer_snapshots_meanwhile  # type: ignore[method-assign]
    loaded = await store(db).load()
    assert loaded is not None and loaded.rows == rows(2, "c")


def test_list_entries_come_back_from_their_rows_as_they_were() -> None:
    need = listed_need(
        {
            "_id": "n1",
            "_version": 3,
            "community_id": "d.s.c",
            "status": "claimed",
            "category": "elderly_care",
            "kind": "wish",
            "requester_id": "res-1",
            "participants": ["v1", "v2"],
            "open_to": "d.s",
            "has_expired_claims": True,
            "created_at": T0,
            "next_claim_expiry": T0 + timedelta(hours=1),
            "active_volunteer_ids": ["v1"],
            "active_organization_ids": ["o1"],
        }
    )
    volunteer = listed_volunteer(
        {
            "_id": "v1",
            "_version": 2,
            "home_community_id": "d.s.c",
            "name": "王红",
            "skills": ["haircut", "legal_advice"],
            "active": False,
        }
    )
    for entry, kind in ((need, ListedNeed), (volunteer, ListedVolunteer)):
        row = row_of(entry)
        # what the store does to a row: BSON out and back
        (again,) = snapshots.decode(snapshots.encode([row]))
        assert entry_of_row(kind, again) == entry
    assert fingerprint(ListedNeed) != fingerprint(ListedVolunteer)
    with pytest.raises(ValueError):
        entry_of_row(ListedVolunteer, row_of(need))
