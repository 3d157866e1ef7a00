"""Lookups by `_id` use the unique `_id` index, alone or beside other conditions.

Our FerretDB build fixes two things in its SQLite backend (deploy/local/infra.sh,
`fix_ferretdb_id_lookups`); without them every find, update and delete by `_id` scanned the
whole table. Against real MongoDB the plan reads differently and the plan checks are skipped;
the results must hold everywhere.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from shared.mongo.client import Database, create_client
from shared.mongo.indexes import Index, declare_indexes, on_ferretdb
from shared.settings import Settings

DOCS = 500


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    client = create_client(settings)
    db = client[settings.database_name("storetest")]
    await db.things.insert_many([{"_id": f"thing-{i:04d}", "v": i % 7} for i in range(DOCS)])
    yield db
    await client.close()


async def plan(db: Database, flt: dict[str, Any]) -> str:
    """FerretDB's SQLite query plan for a find, or skip when the server is not FerretDB."""
    out = await db.command("explain", {"find": "things", "filter": flt})
    if "ferretdbVersion" not in out.get("serverInfo", {}):
        pytest.skip("the plan checks read FerretDB's SQLite plan")
    return " ".join(out["queryPlanner"]["Plan"])


@pytest.mark.parametrize(
    "flt",
    [{"_id": "thing-0042"}, {"_id": "thing-0042", "v": 0}, {"v": 0, "_id": "thing-0042"}],
    ids=["alone", "first-of-two", "second-of-two"],
)
async def test_a_lookup_by_id_searches_the_index_instead_of_scanning(
    db: Database, flt: dict[str, Any]
) -> None:
    explained = await plan(db, flt)
    assert "USING INDEX" in explained and "SCAN" not in explained, explained


async def test_a_filter_without_id_still_scans(db: Database) -> None:
    """The check above can fail: a filter the index cannot serve shows a scan."""
    assert "SCAN" in await plan(db, {"v": 0})


async def test_conditions_beside_id_still_decide_what_matches(db: Database) -> None:
    # thing-0042 has v == 0 (42 % 7)
    assert await db.things.find_one({"_id": "thing-0042", "v": 0}) == {"_id": "thing-0042", "v": 0}
    assert await db.things.find_one({"_id": "thing-0042", "v": 1}) is None
    missed = await db.things.replace_one({"_id": "thing-0042", "v": 1}, {"v": 99})
    assert missed.matched_count == 0
    hit = await db.things.update_one({"_id": "thing-0042", "v": {"$lte": 0}}, {"$set": {"v": 5}})
    assert hit.modified_count == 1
    assert await db.things.delete_one({"_id": "thing-0042", "v": 0}) is not None
    assert await db.things.find_one({"_id": "thing-0042"}) == {"_id": "thing-0042", "v": 5}
    assert await db.things.count_documents({}) == DOCS


async def test_declared_secondary_indexes_are_built_on_mongodb_only(db: Database) -> None:
    """FerretDB would keep them up to date on every write and never use them."""
    await declare_indexes(db, [Index("things", (("v", 1), ("_id", 1)))])
    names = set(await db.things.index_information())
    expected = {"_id_"} if await on_ferretdb(db) else {"_id_", "v_1__id_1"}
    assert names == expected
