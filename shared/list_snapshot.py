"""List index entries as rows of a snapshot (`shared.mongo.snapshots`), and back.

A row is the entry's field values in declaration order, as BSON values: tuples become arrays
(and arrays come back as tuples, nested ones too: keys and buckets are tuples of tuples), a
frozenset becomes `{"set": [...]}`; times come back in UTC (the store decodes them naive).
Entries hold nothing else (they are frozen and hashable).
The fingerprint names the entry class and its fields with their types, so a snapshot written
by code whose entries differ is not read as this code's.
"""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime
from typing import Any

from shared.list_index import E, Entry

# Bumped when the row encoding itself changes.
FORMAT = 2


def fingerprint(entry_type: type[Entry]) -> str:
    fields = ",".join(f"{f.name}:{f.type}" for f in dataclasses.fields(entry_type))
    described = f"{FORMAT}|{entry_type.__module__}.{entry_type.__qualname__}|{fields}"
    return hashlib.sha256(described.encode()).hexdigest()[:16]


def row_of(entry: Entry) -> list[Any]:
    return [_value(getattr(entry, f.name)) for f in dataclasses.fields(entry)]


def entry_of_row(entry_type: type[E], row: list[Any]) -> E:
    fields = dataclasses.fields(entry_type)
    if len(row) != len(fields):
        raise ValueError(f"a row of {len(row)} values for {len(fields)} fields")
    return entry_type(*(_restored(v) for v in row))


def _value(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    if isinstance(value, frozenset):
        return {"set": sorted(_value(v) for v in value)}
    return value


def _restored(value: Any) -> Any:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    if isinstance(value, list):
        return tuple(_restored(v) for v in value)
    if isinstance(value, dict):
        return frozenset(_restored(v) for v in value["set"])
    return value
