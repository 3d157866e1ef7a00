"""Reports built from the answers of /v1/stats, /v1/stats/daily and /v1/stats/ranking: a
workbook (a sheet of the scope's figures, one per child unit, one per category, one of the
daily series), the same as CSV, and a printable monthly page. No I/O but writing bytes.

Long because the workbook, the CSV and the monthly report share their rows and formatting.

Values are the API's own (rates as fractions 0–1, durations in seconds, funds in fen); every
header says the figure's Chinese and English name and its unit, from the catalogue. The
page's template is most of the length.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date
from html import escape
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font

from services.metrics.domain import catalogue

SUMMARY_SHEET = "概况 Summary"
DAILY_SHEET = "每日 Daily"
ABOUT_SHEET = "说明 About"
FIGURE_HEADER = ["指标 Figure", "名称", "Name", "单位 Unit", "数值 Value"]
Row = list[Any]
Sheet = tuple[str, list[Row]]  # (title, rows with the header first)


def figure_rows(figures: dict[str, Any], names: tuple[str, ...]) -> list[Row]:
    rows: list[Row] = [FIGURE_HEADER]
    for name in names:
        f = catalogue.BY_NAME[name]
        rows.append([name, f.zh, f.en, f"{f.unit_zh} / {f.unit_en}", figures.get(name)])
    return rows


def daily_header() -> Row:
    names = catalogue.DAILY_FIGURES
    return [
        "日期 Day",
        *(f"{catalogue.BY_NAME[n].zh}（{catalogue.BY_NAME[n].unit_zh}）" for n in names),
    ]


def sheets(
    stats: dict[str, Any], days: list[dict[str, Any]], category_names: dict[str, str]
) -> list[Sheet]:
    """The workbook's sheets, in order, each with a unique title Excel accepts."""
    out: list[Sheet] = [(SUMMARY_SHEET, figure_rows(stats, catalogue.UNIT_FIGURES))]
    for child in stats["children"]:
        out.append(
            (f"{child['name']} {child['scope']}", figure_rows(child, catalogue.UNIT_FIGURES))
        )
    for slug, figures in stats["by_category"].items():
        title = f"类别 {category_names.get(slug, slug)} {slug}"
        out.append((title, figure_rows(figures, catalogue.NEED_FIGURES)))
    daily_rows: list[Row] = [daily_header()]
    for day in days:
        daily_rows.append([day["day"], *(day[n] for n in catalogue.DAILY_FIGURES)])
    out.append((DAILY_SHEET, daily_rows))
    about: list[Row] = [
        ["项目 Item", "内容 Value"],
        ["范围 Scope", stats["scope"]],
        ["名称 Name", stats["name"]],
        ["开始 From", _day(stats.get("from"))],
        ["结束 To", _day(stats.get("to"))],
        ["时区 Time zone", stats.get("timezone")],
        ["先锋指数 Pioneer index", catalogue.PIONEER_FORMULA_ZH],
        ["", catalogue.PIONEER_FORMULA_EN],
    ]
    about += [[f.name, f"{f.zh}：{f.definition_zh} {f.definition}"] for f in catalogue.FIGURES]
    out.append((ABOUT_SHEET, about))
    return _unique_titles(out)


def _day(value: Any) -> str:
    return value.isoformat() if isinstance(value, date) else str(value or "")


def _unique_titles(found: list[Sheet]) -> list[Sheet]:
    seen: set[str] = set()
    out: list[Sheet] = []
    for title, rows in found:
        base = re.sub(r"[\[\]:*?/\\]", "_", title)[:31]
        name, n = base, 1
        while name in seen:
            n += 1
            name = f"{base[: 31 - len(str(n)) - 1]}~{n}"
        seen.add(name)
        out.append((name, rows))
    return out


def workbook(found: list[Sheet]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in found:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
        sheet.column_dimensions["A"].width = 28
        for column in "BCDE":
            sheet.column_dimensions[column].width = 18
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def csv_text(found: list[Sheet]) -> str:
    """Every sheet in one table: the sheet's title, then its row (header rows included)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["表 Sheet", *FIGURE_HEADER])
    for title, rows in found:
        for row in rows:
            writer.writerow([title, *("" if v is None else v for v in row)])
    return "\ufeff" + buffer.getvalue()  # the BOM makes Excel read it as UTF-8


# --- the printable monthly page ---------------------------------------------------------

HEADLINE = (
    "needs_posted",
    "needs_approved",
    "needs_claimed",
    "tasks_completed",
    "tasks_confirmed",
    "volunteers_registered",
    "party_members_registered",
    "volunteers_active",
    "volunteer_hours",
    "beneficiaries_served",
    "claim_rate",
    "completion_rate",
    "median_time_to_claim_s",
    "pioneer_index",
)
FUNNEL = ("needs_posted", "needs_approved", "needs_claimed", "tasks_completed", "tasks_confirmed")
TREND = (("needs_posted", "#c53030"), ("needs_claimed", "#2b6cb0"), ("tasks_completed", "#2f855a"))


def shown(value: Any, unit: str) -> str:
    """A value as people read it, in the unit that fits (165 s is "2.8 分钟")."""
    if value is None:
        return "—"
    if unit == "ratio":
        return f"{value * 100:.1f}%"
    if unit == "seconds":
        return duration(float(value))
    if unit == "fen":
        return f"{value / 100:,.2f} 元"
    if unit == "hours":
        return f"{value:,.1f} 小时"
    if unit == "index":
        return f"{value:,.1f}"
    if unit == "rating":
        return f"{value:.2f}"
    return f"{value:,}"


def duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} 秒"
    if seconds < 3600:
        return f"{seconds / 60:.1f} 分钟"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.1f} 天"


def _label(name: str) -> str:
    return escape(catalogue.BY_NAME[name].zh)


def _cells(row: Iterator[str], tag: str = "td") -> str:
    return "".join(f"<{tag}>{cell}</{tag}>" for cell in row)


def monthly_page(
    month: str, stats: dict[str, Any], days: list[dict[str, Any]], ranked: list[dict[str, Any]]
) -> str:
    title = f"{escape(stats['name'])} {escape(month)} 月度报告"
    cards = "".join(
        f'<div class="card" data-figure="{n}"><div class="label">{_label(n)}</div>'
        f'<div class="value">{escape(shown(stats[n], catalogue.BY_NAME[n].unit))}</div></div>'
        for n in HEADLINE
    )
    top = max([stats[n] or 0 for n in FUNNEL] + [1])
    funnel = "".join(
        f'<tr><th>{_label(n)}</th><td><span class="bar" style="width:{stats[n] / top * 100:.1f}%">'
        f"</span></td><td class=num>{stats[n]:,}</td></tr>"
        for n in FUNNEL
    )
    names = {u["scope"]: u["name"] for u in [stats, *stats["children"], *stats["ancestors"]]}

    def where(row: dict[str, Any]) -> str:
        parent = row["scope"].rsplit(".", 1)[0]
        above = names.get(parent) if parent != stats["scope"] else None
        return escape(f"{above} · {row['name']}" if above else row["name"])

    rank_rows = "".join(
        "<tr>"
        + _cells(
            iter(
                [
                    str(r["rank"]),
                    where(r),
                    shown(r["pioneer_index"], "index"),
                    shown(r["completion_rate"], "ratio"),
                    shown(r["tasks_completed"], "count"),
                ]
            )
        )
        + "</tr>"
        for r in ranked[:20]
    )
    child_rows = "".join(
        "<tr>"
        + _cells(
            iter([escape(c["name"]), *(shown(c[n], catalogue.BY_NAME[n].unit) for n in FUNNEL)])
        )
        + "</tr>"
        for c in stats["children"]
    )
    heads = _cells(iter(["单位", *(_label(n) for n in FUNNEL)]), "th")
    return PAGE.format(
        title=title,
        formula=escape(catalogue.PIONEER_FORMULA_ZH),
        cards=cards,
        funnel=funnel,
        trend=_trend_svg(days),
        ranking=rank_rows or '<tr><td colspan="5">暂无数据</td></tr>',
        children=child_rows or '<tr><td colspan="6">没有下级单位</td></tr>',
        child_heads=heads,
        window=f"{escape(str(stats.get('from')))} 至 {escape(str(stats.get('to')))}",
        timezone=escape(str(stats.get("timezone", ""))),
    )


def _trend_svg(days: list[dict[str, Any]]) -> str:
    width, height, left = 700, 180, 36
    top = -(-max([d[n] for d in days for n, _ in TREND] + [1]) // 4) * 4  # whole grid steps
    step = (width - left) / max(1, len(days) - 1)
    parts = [f'<svg viewBox="0 0 {width} {height + 24}" role="img" class="trend">']
    for g in range(5):
        y = height - g / 4 * height + 4
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y:.1f}" y2="{y:.1f}" class="axis"/>')
        parts.append(f'<text x="0" y="{y + 4:.1f}">{round(g / 4 * top)}</text>')
    for name, colour in TREND:
        points = " ".join(
            f"{left + i * step:.1f},{height - d[name] / top * height + 4:.1f}"
            for i, d in enumerate(days)
        )
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"/>'
        )
    last = len(days) - 1
    for i, d in enumerate(days):
        if (i % 7 == 0 and last - i >= 4) or i == last:
            anchor = "end" if i == last and i else "start" if i == 0 else "middle"
            parts.append(
                f'<text x="{left + i * step:.1f}" y="{height + 22}" text-anchor="{anchor}">'
                f"{d['day'][5:]}</text>"
            )
    parts.append("</svg>")
    legend = " ".join(
        f'<span><i style="background:{colour}"></i>{_label(name)}</span>' for name, colour in TREND
    )
    return f'<div class="legend">{legend}</div>' + "".join(parts)


PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ font-family: "Noto Sans CJK SC", "PingFang SC", sans-serif; color: #1f2933;
  margin: 24px auto; max-width: 960px; padding: 0 16px; }}
h1 {{ font-size: 22px; border-bottom: 3px solid #c53030; padding-bottom: 6px; }}
h2 {{ font-size: 16px; margin-top: 22px; }}
.meta {{ color: #66788a; font-size: 13px; }}
.cards {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(140px, 1fr)); gap: 8px; }}
.card {{ border: 1px solid #d9e2ec; border-radius: 4px; padding: 8px; }}
.card .label {{ font-size: 12px; color: #66788a; }}
.card .value {{ font-size: 20px; font-weight: 600; }}
table {{ width: 100%; border-collapse: collapse; font-size: 13px; }}
th, td {{ border-bottom: 1px solid #d9e2ec; padding: 4px 6px; text-align: left; }}
td.num {{ text-align: right; }}
.bar {{ display: inline-block; height: 12px; background: #b7791f; }}
.funnel th {{ width: 8em; }} .funnel td.num {{ width: 5em; }}
.trend {{ width: 100%; height: auto; }} .trend text {{ font-size: 12px; fill: #66788a; }}
.trend .axis {{ stroke: #d9e2ec; }}
.legend span {{ margin-right: 12px; font-size: 12px; }}
.legend i {{ display: inline-block; width: 12px; height: 3px; margin-right: 4px; }}
.formula {{ font-size: 12px; color: #66788a; }}
@media print {{ body {{ margin: 0; }} .noprint {{ display: none; }} h2 {{ break-after: avoid; }}
  table, .cards {{ break-inside: avoid; }} }}
</style></head>
<body>
<h1>{title}</h1>
<p class="meta">统计期间 {window}（{timezone}）· 数值与数据看板、统计接口一致</p>
<p class="noprint meta">打印：浏览器菜单“打印”或 Ctrl+P / Print from the browser (Ctrl+P)</p>
<h2>主要指标</h2><div class="cards">{cards}</div>
<p class="formula">{formula}</p>
<h2>办理漏斗</h2><table class="funnel">{funnel}</table>
<h2>每日趋势</h2>{trend}
<h2>下级单位</h2><table><thead><tr>{child_heads}</tr></thead><tbody>{children}</tbody></table>
<h2>社区先锋指数排名</h2>
<table><thead><tr><th>名次</th><th>社区</th><th>先锋指数</th><th>完成率</th><th>已完成</th></tr>
</thead><tbody>{ranking}</tbody></table>
</body></html>
"""
