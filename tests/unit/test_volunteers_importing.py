"""Reading committees' spreadsheets: Chinese headers, GBK CSVs, numeric cells, row numbers."""

from __future__ import annotations

import io

import pytest
from openpyxl import Workbook

from services.volunteers.adapters.importing import ImportFileError, read_rows, rows_to_csv


def test_csv_with_chinese_headers_keeps_the_row_numbers_people_see() -> None:
    content = (
        "姓名,手机号,所在社区,党组织,技能\n"
        "李红,13812345678,zhongshan.hongyan.dongfeng,税务局党支部,唱歌、跳舞\n"
        "\n"
        "王强,13900000000,zhongshan.hongyan.dongfeng,,\n"
    ).encode()
    rows = read_rows(content, 100)
    assert [r.row for r in rows] == [2, 4]
    assert rows[0].fields == {
        "name": "李红",
        "phone": "13812345678",
        "home_community_id": "zhongshan.hongyan.dongfeng",
        "party_org": "税务局党支部",
        "skills": "唱歌、跳舞",
    }


def test_gbk_csv_from_excel_is_read() -> None:
    content = "姓名,手机号,所在社区\n张伟,13700000000,a.b.c\n".encode("gb18030")
    assert read_rows(content, 10)[0].fields["name"] == "张伟"


def test_xlsx_numeric_phone_cells_read_as_digits() -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["说明：志愿者名单"])
    sheet.append(["姓名", "手机号", "所在社区", "技能"])
    sheet.append(["刘芳", 13812345678, "a.b.c", "医疗"])
    sheet.append(["陈静", 13812345679.0, "a.b.c", None])
    buf = io.BytesIO()
    book.save(buf)
    with pytest.raises(ImportFileError):
        read_rows(buf.getvalue(), 10)  # the first non-empty row is not a header
    sheet.delete_rows(1)
    buf = io.BytesIO()
    book.save(buf)
    rows = read_rows(buf.getvalue(), 10)
    assert [(r.row, r.fields["phone"], r.fields["skills"]) for r in rows] == [
        (2, "13812345678", "医疗"),
        (3, "13812345679", ""),
    ]


def test_missing_required_columns_are_named() -> None:
    with pytest.raises(ImportFileError) as exc:
        read_rows("姓名,技能\n李红,唱歌\n".encode(), 10)
    assert "手机号" in str(exc.value) and "所在社区" in str(exc.value)


def test_too_many_rows_refuse_the_file() -> None:
    content = ("姓名,手机号,所在社区\n" + "李红,13812345678,a.b.c\n" * 11).encode()
    with pytest.raises(ImportFileError):
        read_rows(content, 10)


def test_chunks_carry_the_original_row_numbers() -> None:
    rows = read_rows("姓名,手机号,所在社区\n\n\n李红,13812345678,a.b.c\n".encode(), 10)
    again = read_rows(rows_to_csv(rows), 10)
    assert again == rows and again[0].row == 4
