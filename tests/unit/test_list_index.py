"""The in-memory list index (shared.list_index): order, cursors, buckets, and a page that trusts
the heads over the index; and the needs list's bucket choice against `can_see`."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from services.needs.domain.listing import listed_need
from services.needs.domain.need import Need
from services.needs.domain.policy import can_see, list_buckets, may_list
from shared.auth import Principal
from shared.list_index import Entry, ListIndex, page
from shared.listed_heads import HeadCache
from shared.mongo.client import Document

T0 = datetime(2026, 12, 1, tzinfo=UTC)


def entry(i: int, *buckets: str, version: int = 1) -> Entry:
    return Entry(
        id=f"n{i:02d}",
        version=version,
        key=(T0 + timedelta(minutes=i), f"n{i:02d}"),
        buckets=buckets,
    )


def ids(entries: Any) -> list[str]:
    return [e.id for e in entries]


def test_walks_merge_buckets_newest_first_once_each_from_a_cursor() -> None:
    index: ListIndex[Entry] = ListIndex(descending=True)
    for i in range(10):
        index.put(entry(i, "even" if i % 2 == 0 else "odd", *(["three"] if i % 3 == 0 else [])))
    assert ids(index.walk(["even", "odd"], None)) == [f"n{i:02d}" for i in range(9, -1, -1)]
    assert ids(index.walk(["even", "three"], None)) == [
        "n09",
        "n08",
        "n06",
        "n04",
        "n03",
        "n02",
        "n00",
    ]
    assert ids(index.walk(["odd"], entry(5).key)) == ["n03", "n01"]
    ascending: ListIndex[Entry] = ListIndex(descending=False)
    for i in range(5):
        ascending.put(entry(i, "all"))
    assert ids(ascending.walk(["all"], entry(2).key)) == ["n03", "n04"]


def test_a_newer_version_moves_an_entry_and_an_older_one_is_ignored() -> None:
    index: ListIndex[Entry] = ListIndex(descending=True)
    index.put(entry(1, "open", version=2))
    index.put(entry(1, "claimed", version=3))
    index.put(entry(1, "open", version=2))  # late
    assert ids(index.walk(["open"], None)) == [] and ids(index.walk(["claimed"], None)) == ["n01"]
    index.drop("n01")
    assert len(index) == 0 and ids(index.walk(["claimed"], None)) == []


async def test_a_page_shows_what_the_heads_say_and_corrects_the_index_on_the_way() -> None:
    index: ListIndex[Entry] = ListIndex(descending=True)
    for i in range(6):
        index.put(entry(i, "open"))
    # Another replica moved n05 and n03 out of "open" and deleted n04; this one has not heard.
    heads: dict[str, Document] = {
        f"n{i:02d}": {"_id": f"n{i:02d}", "_version": 1, "bucket": "open"} for i in range(6)
    }
    heads["n05"] = {"_id": "n05", "_version": 2, "bucket": "claimed"}
    heads["n03"] = {"_id": "n03", "_version": 2, "bucket": "claimed"}
    del heads["n04"]
    fetched: list[list[str]] = []

    async def fetch(wanted: list[Entry]) -> dict[str, Document]:
        fetched.append([e.id for e in wanted])
        return {e.id: heads[e.id] for e in wanted if e.id in heads}

    def entry_of(head: Document) -> Entry:
        i = int(head["_id"][1:])
        return entry(i, head["bucket"], version=head["_version"])

    def in_open(e: Entry) -> bool:
        return "open" in e.buckets

    got = await page(index, ["open"], None, 2, in_open, fetch, entry_of)
    assert [h["_id"] for h in got] == ["n02", "n01"]
    assert fetched == [["n05", "n04"], ["n03", "n02"], ["n01"]]
    assert ids(index.walk(["open"], None)) == ["n02", "n01", "n00"]
    assert ids(index.walk(["claimed"], None)) == ["n05", "n03"]


COMMUNITY = "zhongshan.hongyan.dongfeng"
PLACES = [COMMUNITY, "zhongshan.hongyan.xinhua", "zhongshan.taiping.heping", "futian.a.b"]
STATUSES = ["pending_review", "open", "claimed", "confirmed", "cancelled"]


def need(n: int, community: str, status: str, requester: str, open_to: str) -> Need:
    return Need.model_validate(
        {
            "id": f"need-{n}",
            "community_id": community,
            "title": "t",
            "category": "elderly_care",
            "kind": "wish",
            "slots": 1,
            "requester": {"name": "王阿姨", "phone": "13812345678"},
            "requester_id": requester,
            "status": status,
            "posted_by": requester,
            "created_at": T0,
            "updated_at": T0,
            "open_to": open_to,
            "participants": ["v1"] if status == "claimed" else [],
        }
    )


def test_kept_heads_serve_the_version_the_index_holds_and_no_other() -> None:
    cache = HeadCache(2)
    cache.put({"_id": "a", "_version": 2, "x": 1})
    assert cache.get("a", 2) == {"_id": "a", "_version": 2, "x": 1}
    assert cache.get("a", 3) is None  # the index knows a newer one: fetched again
    cache.put({"_id": "a", "_version": 1})  # late
    assert cache.get("a", 2) is not None
    cache.forget_older("a", 3)
    assert cache.get("a", 2) is None
    for name in "bcd":
        cache.put({"_id": name, "_version": 1})
    assert cache.get("b", 1) is None and cache.get("d", 1) is not None  # least recent dropped


def test_the_needs_list_buckets_and_may_list_agree_with_can_see() -> None:
    """What may_list takes from list_buckets is what can_see allows (a grid worker, who reads
    their grid's needs by id, lists only their own)."""
    readers = [
        Principal("res-1", "resident", COMMUNITY),
        Principal("v1", "volunteer", COMMUNITY),
        Principal("v2", "volunteer", "zhongshan.hongyan.xinhua"),
        Principal("a", "community_admin", COMMUNITY),
        Principal("a", "street_admin", "zhongshan.hongyan"),
        Principal("a", "district_admin", "zhongshan"),
        Principal("o", "operator", "zhongshan"),
        Principal("s", "service", "zhongshan"),
    ]
    needs = [
        need(n, c, st, r, o)
        for n, (c, st, r, o) in enumerate(
            itertools.product(PLACES, STATUSES, ["res-1", "res-9"], ["", "zhongshan.hongyan"])
        )
    ]
    for p in readers:
        buckets = set(list_buckets(p, None, None))
        for n in needs:
            head = {**n.model_dump(), "_id": n.id, "_version": 1}
            e = listed_need(head)
            listed = may_list(p, e) and bool(buckets & set(e.buckets))
            assert listed == can_see(p, n), (p, n.community_id, n.status, n.requester_id)
            for status in STATUSES:
                narrowed = set(list_buckets(p, "zhongshan.hongyan", status))
                if (
                    may_list(p, e)
                    and n.status == status
                    and n.community_id.startswith("zhongshan.hongyan.")
                ):
                    assert narrowed & set(e.buckets), (p, n.id, status)
