"""The AsyncMongoClient factory: every call bounded by timeouts, datetimes timezone-aware."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

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
