"""Secondary indexes for the queries that still filter on MongoDB, declared by each repository.

Created at start-up on MongoDB (production) and not on FerretDB: its SQLite backend answers
every filter but `_id` equality with a scan whatever the indexes, and keeps each index up to
date on every write (five made inserts twice and replaces three times as slow, measured).
Lists are not among these queries: they come from the list index (`shared.listed_heads`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pymongo import IndexModel
from pymongo.errors import PyMongoError

from shared.logging import get_logger
from shared.mongo.client import Database

log = get_logger(__name__)


@dataclass(frozen=True)
class Index:
    collection: str
    keys: tuple[tuple[str, int], ...]

    @property
    def name(self) -> str:
        return "_".join(f"{field}_{order}" for field, order in self.keys)


async def on_ferretdb(db: Database) -> bool:
    return "ferretdbVersion" in await db.command("buildInfo")


async def declare_indexes(db: Database, indexes: Sequence[Index]) -> None:
    """Creates the indexes that are missing (MongoDB builds them without blocking writes).
    A failure is logged: the queries are slower without them, not wrong."""
    try:
        if await on_ferretdb(db):
            log.info("indexes_not_created_on_ferretdb", count=len(indexes))
            return
        for collection in dict.fromkeys(i.collection for i in indexes):
            models = [
                IndexModel(list(i.keys), name=i.name) for i in indexes if i.collection == collection
            ]
            await db[collection].create_indexes(models)
        log.info("indexes_declared", names=[i.name for i in indexes])
    except PyMongoError as exc:
        log.warning("indexes_not_declared", error=repr(exc))
