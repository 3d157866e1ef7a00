"""Reading volunteer lists (CSV or XLSX, Chinese headers) into numbered rows. No I/O.

Used by the import endpoint and by `tongxin volunteers import`, which reads the file
locally and uploads it in CSV chunks; the optional 行号 column carries the original row
numbers so that every report names the row of the file the user opened.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from shared.logging import get_logger

log = get_logger(__name__)

# Column → the headers accepted for it (Chinese first, as committees write them).
COLUMNS: dict[str, tuple[str, ...]] = {
    "name": ("姓名", "name"),
    "phone": ("手机号", "手机", "手机号码", "联系电话", "phone"),
    "home_community_id": ("所在社区", "社区", "home_community_id", "community"),
    "party_org": ("党组织", "所在党组织", "party_org"),
    "skills": ("技能", "特长", "skills"),
    "pledge_signed": ("已签承诺书", "承诺书", "pledge_signed"),
    "row": ("行号", "row"),
}
REQUIRED = ("name", "phone", "home_community_id")
CANONICAL = {"name": "姓名", "phone": "手机号", "home_community_id": "所在社区"}
CANONICAL |= {"party_org": "党组织", "skills": "技能", "pledge_signed": "已签承诺书", "row": "行号"}
XLSX_MAGIC = b"PK\x03\x04"


class ImportFileError(Exception):
    """The file as a whole cannot be read (not a row's problem)."""


@dataclass(frozen=True)
class SheetRow:
    row: int  # as the user sees it in the file; the header is usually row 1
    fields: dict[str, str]


def read_rows(content: bytes, max_rows: int) -> list[SheetRow]:
    """The data rows of a CSV or XLSX file; blank rows are skipped, numbering kept."""
    if not content.strip():
        raise ImportFileError("文件为空 / the file is empty")
    table = _xlsx_table(content) if content.startswith(XLSX_MAGIC) else _csv_table(content)
    header_at, header = next(((n, cells) for n, cells in table if any(cells)), (0, list[str]()))
    if not header_at:
        raise ImportFileError("文件为空 / the file is empty")
    columns = _columns(header)
    rows = []
    for number, cells in table:
        if number <= header_at or not any(cells):
            continue
        fields = {col: (cells[i] if i < len(cells) else "") for col, i in columns.items()}
        row = fields.pop("row", "")
        rows.append(SheetRow(row=int(row) if row.isdigit() else number, fields=fields))
        if len(rows) > max_rows:
            raise ImportFileError(
                f"行数超过上限 {max_rows} / more than {max_rows} rows; split the file "
                "(the command line tool uploads in chunks)"
            )
    return rows


def rows_to_csv(rows: list[SheetRow]) -> bytes:
    """A chunk of rows as CSV with the canonical headers and their original row numbers."""
    out = io.StringIO()
    writer = csv.writer(out)
    present = {c for r in rows for c in r.fields}
    cols = [c for c in CANONICAL if c in present or c in REQUIRED or c == "row"]
    writer.writerow([CANONICAL[c] for c in cols])
    for r in rows:
        writer.writerow([str(r.row) if c == "row" else r.fields.get(c, "") for c in cols])
    return out.getvalue().encode()


def _columns(header: list[str]) -> dict[str, int]:
    by_header = {h.strip().lower(): i for i, h in enumerate(header) if h.strip()}
    columns: dict[str, int] = {}
    for col, names in COLUMNS.items():
        for name in names:
            if name.lower() in by_header:
                columns[col] = by_header[name.lower()]
                break
    missing = [CANONICAL[c] for c in REQUIRED if c not in columns]
    if missing:
        raise ImportFileError(
            f"缺少列 / missing columns: {', '.join(missing)} "
            "(表头应为 姓名, 手机号, 所在社区, 党组织, 技能)"
        )
    return columns


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))  # a phone number typed into a numeric cell
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _xlsx_table(content: bytes) -> list[tuple[int, list[str]]]:
    from openpyxl import load_workbook

    try:
        book = load_workbook(io.BytesIO(content), read_only=True, data_only=True)
    except Exception as exc:  # zipfile, XML and openpyxl errors alike
        log.info("xlsx_unreadable", error=repr(exc))  # the parser's text stays in the log
        raise ImportFileError("无法读取 XLSX 文件 / unreadable XLSX file") from None
    try:
        sheet = book.worksheets[0]
        return [
            (n, [_cell(v) for v in values])
            for n, values in enumerate(sheet.iter_rows(values_only=True), start=1)
        ]
    finally:
        book.close()


def _csv_table(content: bytes) -> list[tuple[int, list[str]]]:
    for encoding in ("utf-8-sig", "gb18030"):  # Excel in China saves CSV as GBK
        try:
            text = content.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ImportFileError("无法识别文件编码 / the CSV is neither UTF-8 nor GBK")
    first_line = text.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    # Physical line numbers, as a spreadsheet shows them (quoted newlines aside).
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    table = []
    for cells in reader:
        table.append((reader.line_num, [c.strip() for c in cells]))
    return table
