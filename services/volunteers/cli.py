"""`tongxin volunteers import FILE`: bulk reporting in from a spreadsheet, with progress.

The file is read here (CSV or XLSX), then uploaded in CSV chunks that carry the original
row numbers, so that a large file shows progress and every problem names its row.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from dataclasses import dataclass, field
from typing import Any, TextIO

import httpx

from services.volunteers.adapters.importing import ImportFileError, SheetRow, read_rows, rows_to_csv

DEFAULT_URL = "http://127.0.0.1:8002"
CHUNK_ROWS = 500
MAX_ROWS = 1_000_000


class ImportFailed(Exception):
    """The service refused a chunk as a whole (auth, file, or unavailable)."""


@dataclass
class ImportSummary:
    total: int = 0
    created: int = 0
    duplicates: int = 0
    errors: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)

    def add(self, report: dict[str, Any]) -> None:
        self.total += int(report["total"])
        self.created += int(report["created"])
        self.duplicates += int(report["duplicates"])
        self.errors += int(report["errors"])
        self.rows.extend(report["rows"])


def progress_line(done: int, total: int, s: ImportSummary, width: int = 30) -> str:
    filled = width * done // total if total else width
    return (
        f"[{'█' * filled}{'░' * (width - filled)}] {done}/{total} 行 rows · "
        f"新增 created {s.created} · 重复 duplicate {s.duplicates} · 错误 error {s.errors}"
    )


async def import_rows(
    rows: list[SheetRow],
    client: httpx.AsyncClient,
    token: str,
    *,
    chunk_rows: int = CHUNK_ROWS,
    progress: TextIO | None = None,
) -> ImportSummary:
    """Uploads the rows chunk by chunk to `POST /v1/volunteers:import` of `client`."""
    summary = ImportSummary()
    interactive = bool(progress and progress.isatty())
    for start in range(0, len(rows), chunk_rows):
        chunk = rows[start : start + chunk_rows]
        response = await _upload(client, token, rows_to_csv(chunk), start // chunk_rows)
        summary.add(response)
        if progress:
            line = progress_line(start + len(chunk), len(rows), summary)
            progress.write(("\r" + line) if interactive else (line + "\n"))
            progress.flush()
    if progress and interactive:
        progress.write("\n")
    return summary


async def _upload(
    client: httpx.AsyncClient, token: str, body: bytes, n: int, attempts: int = 4
) -> dict[str, Any]:
    # A chunk is safe to send again: rows already created come back as duplicates.
    for attempt in range(1, attempts + 1):
        try:
            response = await client.post(
                "/v1/volunteers:import",
                headers={"Authorization": f"Bearer {token}"},
                files={"file": (f"chunk-{n}.csv", body, "text/csv")},
            )
        except httpx.TransportError as exc:
            if attempt == attempts:
                raise ImportFailed(f"服务不可达 / service unreachable: {exc}") from None
        else:
            if response.status_code == 200:
                result: dict[str, Any] = response.json()
                return result
            if response.status_code < 500 or attempt == attempts:
                try:
                    message = response.json()["error"]["message"]
                except (ValueError, KeyError, TypeError):
                    message = response.text[:300]
                raise ImportFailed(f"HTTP {response.status_code}: {message}")
        await asyncio.sleep(0.5 * 2**attempt)
    raise AssertionError("unreachable")


def print_report(summary: ImportSummary, out: TextIO) -> None:
    for r in summary.rows:
        if r["status"] == "created":
            continue
        label = "重复 duplicate" if r["status"] == "duplicate" else "错误 error"
        ident = f" ({r['volunteer_id']})" if r.get("volunteer_id") else ""
        out.write(f"第 {r['row']} 行 row {r['row']}: {label}{ident} — {r.get('reason')}\n")
    out.write(
        f"共 {summary.total} 行 rows: 新增 created {summary.created}, "
        f"重复 duplicate {summary.duplicates}, 错误 error {summary.errors}\n"
    )


def cmd_import(args: argparse.Namespace) -> int:
    token = args.token or os.environ.get("TONGXIN_TOKEN")
    if not token:
        print("需要令牌 / a token is needed: --token or TONGXIN_TOKEN", file=sys.stderr)
        return 2
    try:
        with open(args.file, "rb") as f:
            rows = read_rows(f.read(), MAX_ROWS)
    except (OSError, ImportFileError) as exc:
        print(f"无法读取 / cannot read {args.file}: {exc}", file=sys.stderr)
        return 2

    async def run() -> ImportSummary:
        async with httpx.AsyncClient(base_url=args.url, timeout=args.timeout) as client:
            return await import_rows(
                rows, client, token, chunk_rows=args.chunk_rows, progress=sys.stderr
            )

    try:
        summary = asyncio.run(run())
    except ImportFailed as exc:
        print(f"导入中止 / import stopped: {exc}", file=sys.stderr)
        return 2
    print_report(summary, sys.stdout)
    return 1 if summary.errors else 0


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("volunteers", help="volunteers service tools / 志愿者")
    sub = p.add_subparsers(dest="volunteers_command", required=True)
    imp = sub.add_parser(
        "import",
        help="bulk report-in from a CSV or XLSX file / 批量报到",
        description=(
            "Headers: 姓名, 手机号, 所在社区 (community path), 党组织, 技能. Prints each "
            "duplicate and error row and a summary; progress goes to stderr. Exit 0 when "
            "no row had an error, 1 when some did, 2 when the import could not run. "
            "Safe to run twice."
        ),
    )
    imp.add_argument("file", help="CSV (UTF-8 or GBK) or XLSX")
    imp.add_argument(
        "--url", default=DEFAULT_URL, help=f"volunteers service (default {DEFAULT_URL})"
    )
    imp.add_argument("--token", help="admin token (default: $TONGXIN_TOKEN)")
    imp.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS, help="rows per upload")
    imp.add_argument("--timeout", type=float, default=120.0, help="seconds per upload")
    imp.set_defaults(func=cmd_import)
