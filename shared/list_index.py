"""An ordered index of a collection's heads, held in memory, that chooses a list page's ids.

FerretDB answers any filter but `_id` equality by scanning the whole collection (2 s at
100,000 needs), so a list must not ask it to filter. Each process keeps, per bucket (a
community, a person), the sort keys of the heads in order; a page walks the buckets the
caller may see from its cursor, keeps the entries that match, and fetches those heads by
`_id`. The fetched heads are the truth: an entry they contradict is corrected and the walk
goes on, so a stale entry can hide a change for a moment but never show what the caller may
not see. No I/O here: the caller passes the fetch.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Awaitable, Callable, Hashable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from shared.mongo.client import Document

# A sort key ends with the entry's id, so that keys are unique and a cursor is a key.
Key = tuple[Any, ...]


@dataclass(frozen=True)
class Entry:
    """What the index holds of one head: the fields lists filter on, nothing more."""

    id: str
    version: int
    key: Key
    buckets: tuple[Hashable, ...]


E = TypeVar("E", bound=Entry)


class ListIndex(Generic[E]):
    def __init__(self, *, descending: bool) -> None:
        self.descending = descending
        self.entries: dict[str, E] = {}
        self._buckets: dict[Hashable, list[Key]] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def put(self, entry: E) -> None:
        """Holds `entry` unless a newer version of it is held already."""
        old = self.entries.get(entry.id)
        if old is not None:
            if old.version > entry.version:
                return
            self._unlink(old)
        self.entries[entry.id] = entry
        for bucket in entry.buckets:
            bisect.insort(self._buckets.setdefault(bucket, []), entry.key)

    def drop(self, entry_id: str) -> None:
        old = self.entries.pop(entry_id, None)
        if old is not None:
            self._unlink(old)

    def _unlink(self, entry: E) -> None:
        for bucket in entry.buckets:
            keys = self._buckets.get(bucket, [])
            at = bisect.bisect_left(keys, entry.key)
            if at < len(keys) and keys[at] == entry.key:
                del keys[at]
            if not keys:
                self._buckets.pop(bucket, None)

    def walk(self, buckets: Iterable[Hashable], after: Key | None) -> Iterator[E]:
        """The entries of these buckets in list order, each once, from just past `after`."""
        runs = [self._run(self._buckets.get(b, []), after) for b in set(buckets)]
        last: Key | None = None
        for key in heapq.merge(*runs, reverse=self.descending):
            if key != last:  # an entry in two of the buckets comes out twice, side by side
                last = key
                yield self.entries[key[-1]]

    def _run(self, keys: list[Key], after: Key | None) -> Iterator[Key]:
        if self.descending:
            end = len(keys) if after is None else bisect.bisect_left(keys, after)
            return (keys[i] for i in range(end - 1, -1, -1))
        start = 0 if after is None else bisect.bisect_right(keys, after)
        return (keys[i] for i in range(start, len(keys)))


async def page(
    index: ListIndex[E],
    buckets: Sequence[Hashable],
    after: Key | None,
    limit: int,
    matches: Callable[[E], bool],
    fetch: Callable[[list[E]], Awaitable[dict[str, Document]]],
    entry_of: Callable[[Document], E],
) -> list[Document]:
    """Up to `limit` heads, in list order from `after`, whose entries `matches`: candidates
    from the index, each confirmed by its head as `fetch` gives it (by `_id`, or a copy of
    that version kept from before). Costs the page, plus one more round for each candidate
    the index held wrongly (it is corrected on the way)."""
    out: list[Document] = []
    while len(out) < limit:
        wanted = limit - len(out)
        candidates: list[E] = []
        for entry in index.walk(buckets, after):
            if matches(entry):
                candidates.append(entry)
                if len(candidates) == wanted:
                    break
        if not candidates:
            break
        heads = await fetch(candidates)
        for candidate in candidates:
            head = heads.get(candidate.id)
            if head is None:
                index.drop(candidate.id)
                continue
            fresh = entry_of(head)
            if fresh != candidate:
                # corrected; kept out if older (a head left behind; its next commit heals it).
                # Unchanged entries are left in place: re-sorting one costs a move of its
                # buckets' keys (the district's: every head of it).
                index.put(fresh)
            if fresh.key == candidate.key and matches(fresh):
                out.append(head)
        after = candidates[-1].key
    return out
