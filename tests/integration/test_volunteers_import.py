"""Bulk reporting in from spreadsheets on the real FerretDB and Kafka."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import httpx
from openpyxl import Workbook

from services.volunteers.adapters.importing import read_rows
from services.volunteers.app import create_app
from services.volunteers.cli import import_rows
from shared.events.envelope import CloudEvent
from shared.events.volunteers import OrgUnitUpdated
from shared.mongo.client import create_client
from shared.mongo.store import AggregateStore, NewCommit, commit_id
from shared.settings import Settings
from tests.helpers import auth, running

DISTRICT = "zhongshan"
STREET = "zhongshan.hongyan"
COMMUNITIES = [f"{STREET}.c{i}" for i in range(10)]
SKILLS = ["法律咨询", "唱歌、跳舞", "修电脑,理发", "医疗；护理", "书法 绘画", ""]
# Each bad row and the field its error names.
BAD = [
    (["", "13800000000", COMMUNITIES[0], "", ""], "name"),
    (["钱七", "12345", COMMUNITIES[0], "", ""], "phone"),
    (["孙八", "13800000000", f"{STREET}.nowhere", "", ""], "home_community_id"),
    (["周九", "13800000000", STREET, "", ""], "home_community_id"),
    (["吴十", "13800000000", "futian.lianhua.meilin", "", ""], "home_community_id"),
]


async def seed_tree(client: httpx.AsyncClient, settings: Settings) -> None:
    service = auth(settings, "service", DISTRICT)
    for path in (DISTRICT, STREET, *COMMUNITIES):
        r = await client.put(f"/v1/orgs/{path}", json={"name": path}, headers=service)
        assert r.status_code == 201, r.text


def spreadsheet(valid: int, duplicates: int, bad: int) -> tuple[bytes, dict[int, str]]:
    """An XLSX with `valid` new volunteers, then repeats and bad rows mixed in; returns the
    file and, by row number, the field each bad row's error must name."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet("志愿者")
    sheet.append(["姓名", "手机号", "所在社区", "党组织", "技能"])
    bad_rows: dict[int, str] = {}
    n = 1  # the header

    def person(i: int) -> list[object]:
        # phones as people type them: some as text with spaces, some as numeric cells
        phone = 13_000_000_000 + i if i % 2 else f"130 {i // 10000:04d} {i % 10000:04d}"
        return [f"志愿者{i}", phone, COMMUNITIES[i % 10], "机关党支部", SKILLS[i % 6]]

    for i in range(valid):
        sheet.append(person(i))
        n += 1
        if i % 48 == 47 and duplicates:
            sheet.append(person(i - 20))  # the same person again, further down
            n, duplicates = n + 1, duplicates - 1
        if i % 97 == 50 and bad:
            cells, field = BAD[bad % len(BAD)]
            sheet.append(cells)
            n, bad = n + 1, bad - 1
            bad_rows[n] = field
    out = io.BytesIO()
    book.save(out)
    return out.getvalue(), bad_rows


async def test_five_thousand_row_xlsx_imports_each_row_once_and_reports_every_bad_row(
    settings: Settings,
) -> None:
    content, bad_rows = spreadsheet(valid=4850, duplicates=100, bad=50)
    assert len(bad_rows) == 50
    admin = auth(settings, "street_admin", STREET)
    # No relay in this process: the import is timed alone, and its outbox inspected whole.
    quiet = settings.model_copy(update={"relay_enabled": False})
    async with running(create_app(quiet)) as client:
        await seed_tree(client, settings)
        started = time.perf_counter()
        r = await client.post(
            "/v1/volunteers:import",
            files={"file": ("志愿者名单.xlsx", content, "application/octet-stream")},
            headers=admin,
            timeout=120,
        )
        elapsed = time.perf_counter() - started
        assert r.status_code == 200, r.text[:500]
        report = r.json()
        print(f"\n5,000-row XLSX import ({len(content) // 1024} KiB): {elapsed:.2f} s")
        assert (report["total"], report["created"], report["duplicates"], report["errors"]) == (
            5000,
            4850,
            100,
            50,
        )
        errors = {row["row"]: row for row in report["rows"] if row["status"] == "error"}
        assert {n: e["field"] for n, e in errors.items()} == bad_rows
        assert all(e["reason"] and "/" in e["reason"] for e in errors.values())
        duplicate = next(row for row in report["rows"] if row["status"] == "duplicate")
        assert "same phone and community as row" in duplicate["reason"]
        assert elapsed < 60

        r = await client.get(
            "/v1/volunteers", params={"scope": COMMUNITIES[2], "skill": "理发"}, headers=admin
        )
        found = r.json()["items"]
        assert found and all("haircut" in v["skills"] for v in found)  # 理发's slug

        # the same file again, through the command line's chunked upload: nothing new
        progress = io.StringIO()
        again = await import_rows(
            read_rows(content, 10_000),
            client,
            admin["Authorization"].removeprefix("Bearer "),
            progress=progress,
        )
        assert (again.total, again.created, again.duplicates, again.errors) == (5000, 0, 4950, 50)
        assert {r["row"] for r in again.rows if r["status"] == "error"} == set(bad_rows)
        lines = progress.getvalue().splitlines()
        assert len(lines) == 10 and lines[-1].count("5000/5000") == 1

    # Every created volunteer's registration waits in the outbox for a relay, exactly once.
    mongo = create_client(settings)
    try:
        db = mongo[settings.database_name("volunteers")]
        commits = {c["_id"] async for c in db["volunteers_commits"].find({}, {"_id": 1})}
        queued = [m["commit_id"] async for m in db["outbox"].find({"aggregate": "volunteers"})]
        assert len(commits) == len(queued) == 4850 and set(queued) == commits
    finally:
        await mongo.close()


async def test_csv_import_names_rows_outside_the_admin_scope_and_refused_pledges(
    settings: Settings,
) -> None:
    community_admin = auth(settings, "community_admin", COMMUNITIES[0])
    content = (
        "姓名,手机号,所在社区,已签承诺书\n"
        f"李红,13812345678,{COMMUNITIES[0]},是\n"
        f"王强,13912345678,{COMMUNITIES[1]},是\n"
        f"张伟,13712345678,{COMMUNITIES[0]},否\n"
    ).encode("gb18030")
    async with running(create_app(settings)) as client:
        await seed_tree(client, settings)
        r = await client.post(
            "/v1/volunteers:import",
            files={"file": ("名单.csv", content, "text/csv")},
            headers=community_admin,
        )
        assert r.status_code == 200, r.text
        rows = {row["row"]: row for row in r.json()["rows"]}
        assert rows[2]["status"] == "created"
        assert rows[3]["status"] == "error" and "outside your scope" in rows[3]["reason"]
        assert rows[4]["status"] == "error" and rows[4]["field"] == "pledge_signed"

        volunteer = auth(settings, "volunteer", COMMUNITIES[0])
        r = await client.post(
            "/v1/volunteers:import", files={"file": ("名单.csv", content)}, headers=volunteer
        )
        assert r.status_code == 403
        r = await client.post(
            "/v1/volunteers:import",
            files={"file": ("名单.csv", "姓名,技能\n李红,唱歌\n".encode())},
            headers=community_admin,
        )
        assert r.status_code == 422 and "手机号" in r.json()["error"]["message"]


async def test_bulk_commit_decides_each_commit_by_its_unique_insert_and_queues_one_marker_each(
    settings: Settings,
) -> None:
    mongo = create_client(settings)
    try:
        db = mongo[settings.database_name("bulkstore")]
        store = AggregateStore(db, "things")
        await store.commit("b", 0, {"n": 0})
        event = CloudEvent.wrap(
            OrgUnitUpdated(
                path="a", name="a", level="district", updated_by="t", updated_at=datetime.now(UTC)
            )
        )
        stored = await store.commit_many(
            [
                NewCommit("a", 0, {"n": 1}, [("topic", event)]),
                NewCommit("b", 0, {"n": 1}, [("topic", event)]),  # version 1 of b is taken
                NewCommit("b", 1, {"n": 2}),
            ]
        )
        assert stored == [True, False, True]
        assert await store.load("a") == ({"n": 1}, 1)
        assert await store.load("b") == ({"n": 2}, 2)
        markers = await db["outbox"].find({}).to_list()
        assert [m["commit_id"] for m in markers] == [commit_id("a", 1)]
    finally:
        await mongo.close()


async def test_import_takes_the_community_by_name_and_names_the_candidates_of_an_ambiguous_one(
    settings: Settings,
) -> None:
    service = auth(settings, "service", DISTRICT)
    tree = {
        DISTRICT: "中山区",
        "zhongshan.dongjie": "东街街道",
        "zhongshan.dongjie.heping": "和平社区",
        "zhongshan.xijie": "西街街道",
        "zhongshan.xijie.heping": "和平社区",
        "zhongshan.xijie.dongfeng": "东风社区",
    }
    sheet = (
        "姓名,手机号,所在社区\n"
        "张三,13900000001,东风社区\n"
        "李四,13900000002,和平社区\n"
        "王五,13900000003,幸福社区\n"
    ).encode()
    async with running(create_app(settings)) as client:
        for path, name in tree.items():
            r = await client.put(f"/v1/orgs/{path}", json={"name": name}, headers=service)
            assert r.status_code == 201, r.text

        async def upload(role: str, scope: str) -> list[dict[str, object]]:
            r = await client.post(
                "/v1/volunteers:import",
                files={"file": ("名单.csv", sheet, "text/csv")},
                headers=auth(settings, role, scope),
            )
            assert r.status_code == 200, r.text
            rows: list[dict[str, object]] = r.json()["rows"]
            return rows

        # the district sees two 和平社区: the row names both, with their streets
        district = await upload("district_admin", DISTRICT)
        assert [row["status"] for row in district] == ["created", "error", "error"]
        ambiguous = str(district[1]["reason"])
        assert "东街街道和平社区" in ambiguous and "西街街道和平社区" in ambiguous
        assert district[1]["field"] == "home_community_id"
        assert "幸福社区" in str(district[2]["reason"])
        # inside 西街 the name is unique
        street = await upload("street_admin", "zhongshan.xijie")
        assert [row["status"] for row in street] == ["duplicate", "created", "error"]
        r = await client.get(
            f"/v1/volunteers/{street[1]['volunteer_id']}",
            headers=auth(settings, "service", DISTRICT),
        )
        assert r.json()["home_community_id"] == "zhongshan.xijie.heping"
