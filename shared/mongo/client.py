"""The AsyncMongoClient factory: every call bounded by timeouts, datetimes timezone-aware."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from shared.settings import Settings

Document = dict[str, Any]
Database = AsyncDatabase[Document]


def create_client(settings: Settings) -> AsyncMongoClient[Document]:
    timeout = settings.mongodb_timeout_ms
    return AsyncMongoClient(
        settings.mongodb_url,
        tz_aware=True,
        serverSelectionTimeoutMS=timeout,
        connectTimeoutMS=timeout,
        socketTimeoutMS=timeout * 3,
        retryWrites=False,  # FerretDB 1.x has no retryable writes; our writes are idempotent
    )


async def find_by_ids(
    collection: AsyncCollection[Document],
    ids: Iterable[Any],
    projection: Document | None = None,
) -> dict[Any, Document]:
    """The documents with these `_id`s, keyed by `_id`: one lookup each, run concurrently.

    A lookup by `_id` uses the `_id` index on MongoDB and on our FerretDB build alike, while
    FerretDB 1.x answers `{"_id": {"$in": [...]}}` by scanning the whole collection.
    """
    wanted = list(dict.fromkeys(ids))
    found = await asyncio.gather(*(collection.find_one({"_id": i}, projection) for i in wanted))
    return {doc["_id"]: doc for doc in found if doc is not None}


DUPLICATE_KEY = 11000


async def insert_new(collection: Any, docs: Sequence[Document]) -> set[int]:
    """Inserts what is new (one unordered bulk insert); the indexes of documents whose `_id`
    was taken. The insert-only rule's one way to say "already there" (FerretDB has no
    compare-and-set)."""
    try:
        await collection.insert_many(list(docs), ordered=False)
    except BulkWriteError as exc:
        errors = exc.details.get("writeErrors", [])
        if any(e.get("code") != DUPLICATE_KEY for e in errors):
            raise
        return {int(e["index"]) for e in errors}
    return set()
