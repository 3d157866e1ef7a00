"""A read model saved as a few documents, with the stream offsets it reflects (issues 16, 19).

Loading an in-memory read model from the documents it is built of is a scan, and FerretDB's
SQLite backend decodes every document of it, the fields a projection drops included (about
0.35 ms a document here: 100,000 needs take half a minute on an idle machine, minutes on a
busy one). A snapshot holds the same state as a few compressed chunk documents, each read by
`_id` (well under MongoDB's 16 MB each): 100,000 list entries load in about a second. A
service then starts by loading the snapshot and following its stream from the offsets the
snapshot reflects, instead of loading everything and following from the end.

Versioned, never overwritten: a snapshot's chunks are inserted first under ids of their own
(`<name>:<seq>:<writer>:<n>`), then the pointer document (`_id` = the name) is moved to them
by a replace that matches the pointer's `seq` as it was read, and only then is the snapshot
before the previous one deleted (a reader still reading the previous one finds it whole). A
crash mid-snapshot leaves the pointer on the previous snapshot; of two writers at once, one
moves the pointer and the other deletes its chunks. A snapshot of another format
(`fingerprint`: what its rows mean) is ignored, so a changed read model loads in full once.
No knowledge of what the rows are: the caller encodes them as BSON values (times come back
naive, in UTC).
"""

from __future__ import annotations

import asyncio
import gc
import uuid
import zlib
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import bson
from bson.binary import Binary
from bson.codec_options import CodecOptions
from pymongo.errors import DuplicateKeyError

from shared.mongo.client import Database, Document

COLLECTION = "snapshots"
# Rows per chunk document; a chunk is split further if its compressed form is over CHUNK_BYTES.
ROWS_PER_CHUNK = 20_000
CHUNK_BYTES = 8_000_000
# Times come back naive, in UTC: an aware decode took 6x as long (4.2 s against 0.7 s for
# 100,000 list entries); the caller's rows know which values are times.
CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=False)
# Times a load starts again from the pointer when a chunk was deleted under it.
LOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class Snapshot:
    seq: int
    rows: list[Any]
    offsets: dict[str, int]  # partition (as the caller names it) → first offset not reflected
    taken_at: datetime


class SnapshotStore:
    def __init__(self, db: Database, name: str, fingerprint: str) -> None:
        self.collection = db[COLLECTION]
        self.name = name
        self.fingerprint = fingerprint

    async def load(self) -> Snapshot | None:
        """The newest snapshot of this format, or None (none yet, or of another format)."""
        for _ in range(LOAD_ATTEMPTS):
            pointer = await self.collection.find_one({"_id": self.name})
            if pointer is None or pointer.get("fingerprint") != self.fingerprint:
                return None
            rows = await self._rows(pointer)
            if rows is not None:
                return Snapshot(
                    seq=int(pointer["seq"]),
                    rows=rows,
                    offsets={str(o["at"]): int(o["offset"]) for o in pointer["offsets"]},
                    taken_at=pointer["taken_at"],
                )
        return None

    async def _rows(self, pointer: Document) -> list[Any] | None:
        rows: list[Any] = []
        for n in range(int(pointer["chunks"])):
            doc = await self.collection.find_one({"_id": self._chunk_id(pointer, n)})
            if doc is None:
                return None  # a newer snapshot deleted it meanwhile: read the pointer again
            with gc_paused():
                rows.extend(decode(doc["data"]))
            await asyncio.sleep(0)  # one chunk at a time: the event loop serves meanwhile
        return rows

    async def save(self, rows: Sequence[Any], offsets: Mapping[str, int]) -> bool:
        """Stores `rows` as the newest snapshot, reflecting the stream up to `offsets`; False
        if another writer moved the pointer first (this one's chunks are deleted then)."""
        current = await self.collection.find_one({"_id": self.name})
        writer = uuid.uuid4().hex[:12]
        seq = int(current["seq"]) + 1 if current is not None else 1
        pointer: Document = {
            "_id": self.name,
            "seq": seq,
            "writer": writer,
            "chunks": 0,
            "rows": len(rows),
            # a list, not a document: a topic's name has dots, which keys may not (and
            # FerretDB stores no arrays of arrays)
            "offsets": [{"at": str(p), "offset": int(o)} for p, o in offsets.items()],
            "fingerprint": self.fingerprint,
            "taken_at": datetime.now(UTC),
            "previous": _ref(current),
        }
        for data in await chunks(rows):
            await self.collection.insert_one(
                {"_id": self._chunk_id(pointer, pointer["chunks"]), "data": Binary(data)}
            )
            pointer["chunks"] += 1
        if await self._move(current, pointer):
            if current is not None and current.get("previous"):
                await self._delete(current["previous"])
            return True
        await self._delete(pointer)
        return False

    async def drop(self) -> None:
        """Deletes the snapshots under this name (of any format) and their pointer."""
        pointer = await self.collection.find_one({"_id": self.name})
        if pointer is None:
            return
        await self.collection.delete_one({"_id": self.name})
        for ref in (pointer, pointer.get("previous")):
            if ref:
                await self._delete(ref)

    async def _move(self, current: Document | None, pointer: Document) -> bool:
        if current is None:
            try:
                await self.collection.insert_one(pointer)
                return True
            except DuplicateKeyError:
                return False
        moved = await self.collection.replace_one(
            {"_id": self.name, "seq": current["seq"]}, pointer
        )
        return moved.matched_count == 1

    async def _delete(self, ref: Document) -> None:
        for n in range(int(ref["chunks"])):  # by `_id`: FerretDB scans for anything else
            await self.collection.delete_one({"_id": self._chunk_id(ref, n)})

    def _chunk_id(self, ref: Document, n: int) -> str:
        return f"{self.name}:{int(ref['seq']):08d}:{ref['writer']}:{n:04d}"


def _ref(pointer: Document | None) -> Document | None:
    if pointer is None:
        return None
    return {"seq": pointer["seq"], "writer": pointer["writer"], "chunks": pointer["chunks"]}


async def chunks(rows: Sequence[Any]) -> list[bytes]:
    """The rows as compressed BSON chunks of at most CHUNK_BYTES each, encoded one chunk at a
    time so that the event loop serves between them."""
    out: list[bytes] = []
    pending = [
        (start, min(len(rows), start + ROWS_PER_CHUNK))
        for start in range(0, len(rows), ROWS_PER_CHUNK)
    ]
    while pending:
        start, end = pending.pop(0)
        data = encode(rows[start:end])
        if len(data) > CHUNK_BYTES and end - start > 1:
            middle = (start + end) // 2
            pending[:0] = [(start, middle), (middle, end)]
            continue
        out.append(data)
        await asyncio.sleep(0)
    return out


def encode(rows: Sequence[Any]) -> bytes:
    return zlib.compress(bson.encode({"rows": list(rows)}), 1)


def decode(data: bytes) -> list[Any]:
    return list(bson.decode(zlib.decompress(data), codec_options=CODEC)["rows"])


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection inside (a stretch with no await that makes many objects
    and frees none, as a load does): the collector would otherwise walk the growing heap
    again and again (decoding 100,000 list entries took 3.5 s with it, 0.6 s without)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
