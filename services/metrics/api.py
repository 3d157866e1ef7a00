"""HTTP → queries of the metrics service: stats, daily series, ranking, the figure
catalogue, the lists behind counts, reports, the dashboard page. Over 300 lines because it
is the service's one visible list of routes; each route only reads the projection.

Long because it serves every read of the metrics service (stats, series, ranking, catalogue,
lists, reports, dashboard); each route is a few lines.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from services.metrics import metrics
from services.metrics.adapters import reports
from services.metrics.domain import catalogue
from services.metrics.domain.figures import DEFINITIONS
from services.metrics.domain.policy import ReadableScope
from services.metrics.handlers.projection import Projection
from services.metrics.schemas import (
    Categories,
    Category,
    Daily,
    FigureCatalogue,
    FigureSpec,
    Ranking,
    Rows,
    Stats,
)
from services.metrics.settings import MetricsSettings
from shared.auth import CurrentPrincipal, Principal
from shared.categories import CATEGORIES
from shared.http import PUBLIC, ApiError, app_deps
from shared.inputs import Day
from shared.logging import get_logger

log = get_logger(__name__)

STATIC = Path(__file__).parent / "static"
MAX_DAILY_DAYS = 366
DEFAULT_DAILY_DAYS = 30
LOAD_WAIT_S = 10.0

CATEGORY_EN = {
    "childcare": "Childcare",
    "elderly_care": "Elderly care",
    "medical": "Medical care",
    "food_safety": "Food safety",
    "culture_leisure": "Culture & leisure",
    "public_affairs": "Public affairs",
    "education_aid": "Education aid",
    "legal_aid": "Legal aid",
    "domestic_help": "Domestic help",
    "dispute_mediation": "Dispute mediation",
    "security_patrol": "Security patrol",
    "policy_outreach": "Policy outreach",
    "hardship_relief": "Hardship relief",
    "other": "Other",
}

router = APIRouter(prefix="/v1", tags=["stats"])
pages = APIRouter(tags=["dashboard"])

From = Annotated[Day | None, Query(alias="from", description="First day (YYYY-MM-DD), inclusive.")]
To = Annotated[Day | None, Query(alias="to", description="Last day (YYYY-MM-DD), inclusive.")]


async def _projection(request: Request) -> Projection:
    """The projection once its facts are loaded (a few seconds after start at most)."""
    projection: Projection = await app_deps(request)
    try:
        await asyncio.wait_for(projection.ready.wait(), LOAD_WAIT_S)
    except TimeoutError:
        raise ApiError(503, "统计数据加载中 / figures are loading, try again shortly") from None
    return projection


def _check_window(first: date | None, last: date | None) -> None:
    if first is not None and last is not None and first > last:
        raise ApiError(
            422,
            "开始日期晚于结束日期 / from is after to",
            details=[{"field": "from", "message": "must not be after to"}],
        )


@router.get(
    "/stats",
    response_model=Stats,
    response_model_by_alias=True,
    summary="Figures of a scope and window / 统计",
    description=DEFINITIONS,
)
async def stats(
    scope: ReadableScope, request: Request, first: From = None, last: To = None
) -> dict[str, Any]:
    _check_window(first, last)
    return _stats_body(await _projection(request), scope, first, last)


def _stats_body(
    projection: Projection, scope: str, first: date | None, last: date | None
) -> dict[str, Any]:
    """The body of /v1/stats: the reports are made of exactly this."""
    return {
        **projection.stats(scope, first, last),
        "from": first,
        "to": last,
        "timezone": projection.settings.timezone,
        "generation": projection.generation,
    }


@router.get(
    "/stats/daily",
    response_model=Daily,
    response_model_by_alias=True,
    summary="Figures per day / 每日趋势",
    description="Per calendar day of the window (default: the last 30 days, at most 366), the "
    "flows of /v1/stats with the same definitions.",
)
async def stats_daily(
    scope: ReadableScope, request: Request, first: From = None, last: To = None
) -> dict[str, Any]:
    projection = await _projection(request)
    last = last or projection.today()
    first = first or last - timedelta(days=DEFAULT_DAILY_DAYS - 1)
    _check_window(first, last)
    if (last - first).days >= MAX_DAILY_DAYS:
        raise ApiError(
            422,
            f"时间窗口过长 / window longer than {MAX_DAILY_DAYS} days",
            details=[{"field": "from", "message": f"at most {MAX_DAILY_DAYS} days"}],
        )
    return {
        "scope": scope,
        "from": first,
        "to": last,
        "timezone": projection.settings.timezone,
        "days": projection.daily(scope, first, last),
    }


@router.get(
    "/stats/ranking",
    response_model=Ranking,
    response_model_by_alias=True,
    summary="Communities by pioneer index / 先锋指数排名",
    description="The communities at or below the scope, highest pioneer index first (ties by "
    "path), each with the figures of /v1/stats.",
)
async def stats_ranking(
    scope: ReadableScope,
    request: Request,
    first: From = None,
    last: To = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> dict[str, Any]:
    _check_window(first, last)
    projection = await _projection(request)
    return {
        "scope": scope,
        "from": first,
        "to": last,
        "items": projection.ranking(scope, first, last)[:limit],
    }


@router.get(
    "/figures",
    response_model=FigureCatalogue,
    summary="Names, labels, units and definitions of the figures / 指标说明",
)
async def figure_catalogue(_: CurrentPrincipal) -> FigureCatalogue:
    return FigureCatalogue(
        pioneer_formula_zh=catalogue.PIONEER_FORMULA_ZH,
        pioneer_formula_en=catalogue.PIONEER_FORMULA_EN,
        items=[
            FigureSpec(
                name=f.name,
                zh=f.zh,
                en=f.en,
                unit=f.unit,
                unit_zh=f.unit_zh,
                unit_en=f.unit_en,
                definition=f.definition,
                definition_zh=f.definition_zh,
                group=f.group,
                daily=f.daily,
                rows=f.rows,
            )
            for f in catalogue.FIGURES
        ],
    )


@router.get(
    "/lists/{figure}",
    response_model=Rows,
    response_model_by_alias=True,
    summary="The list behind a count / 指标明细",
    description="The needs (or claims, completions, volunteers) a count figure of /v1/stats "
    "counts, with the same scope, window and definition, newest first; `total` equals the "
    "figure. Figures with a list: " + ", ".join(f"`{n}`" for n in catalogue.LISTED) + ".",
)
async def rows_behind(
    figure: str,
    scope: ReadableScope,
    request: Request,
    first: From = None,
    last: To = None,
    category: Annotated[str | None, Query(max_length=64, pattern=r"^[a-z0-9_]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=20000)] = 5000,
) -> dict[str, Any]:
    if figure not in catalogue.LISTED:
        raise ApiError(
            404,
            f"该指标没有明细 / figure {figure} has no list",
            details={"figure": figure, "listed": list(catalogue.LISTED)},
        )
    if category is not None and catalogue.BY_NAME[figure].group != "need":
        raise ApiError(
            422,
            "该指标不分类别 / this figure is not given per category",
            details=[{"field": "category", "message": "only need figures have categories"}],
        )
    _check_window(first, last)
    projection = await _projection(request)
    rows = projection.rows(figure, scope, first, last, category)
    return {
        "figure": figure,
        "scope": scope,
        "from": first,
        "to": last,
        "category": category,
        "total": len(rows),
        "items": rows[:limit],
    }


def _report_days(projection: Projection, first: date | None, last: date | None) -> list[date]:
    """The daily series' days for a report: the window, at most MAX_DAILY_DAYS of its end."""
    last = last or projection.today()
    first = first or last - timedelta(days=DEFAULT_DAILY_DAYS - 1)
    first = max(first, last - timedelta(days=MAX_DAILY_DAYS - 1))
    return [first, last]


def _category_names(settings: MetricsSettings) -> dict[str, str]:
    return {c.slug: c.zh for c in _categories(settings)}


async def _report(
    principal: Principal,
    scope: str,
    request: Request,
    first: date | None,
    last: date | None,
    what: str,
) -> tuple[Projection, dict[str, Any], list[dict[str, Any]]]:
    _check_window(first, last)
    projection = await _projection(request)
    body = _stats_body(projection, scope, first, last)
    day0, day1 = _report_days(projection, first, last)
    days = projection.daily(scope, day0, day1)
    metrics.REPORTS_EXPORTED.labels(what).inc()
    log.info(
        "report_exported",
        report=what,
        sub=principal.sub,
        role=principal.role,
        scope=scope,
        window_from=str(first),
        window_to=str(last),
    )
    return projection, body, days


REPORT_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@router.get(
    "/reports/summary.{fmt}",
    tags=["reports"],
    summary="The scope's figures as a workbook or CSV / 统计报表（Excel、CSV）",
    response_class=Response,
    responses={200: {"content": {t.split(";")[0]: {} for t in REPORT_TYPES.values()}}},
    description="`summary.xlsx` has sheets: the scope's figures, one per child unit, one per "
    "category, the daily series (the window, default the last 30 days, at most 366), and the "
    "definitions. The values are those of /v1/stats for the same scope and window (rates "
    "0–1, seconds, fen); headers give the Chinese and English names and units. `summary.csv` "
    "holds every sheet in one UTF-8 table (with BOM): the sheet's title in the first column, "
    "then the sheet's row. Scoped like /v1/stats; each export is logged with who asked.",
)
async def summary(
    fmt: Literal["xlsx", "csv"],
    principal: CurrentPrincipal,
    scope: ReadableScope,
    request: Request,
    first: From = None,
    last: To = None,
) -> Response:
    _, body, days = await _report(principal, scope, request, first, last, f"summary.{fmt}")
    found = reports.sheets(body, days, _category_names(request.app.state.settings))
    content = reports.workbook(found) if fmt == "xlsx" else reports.csv_text(found)
    name = f"tongxin-{scope}-{first or 'start'}-{last or 'now'}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"}
    return Response(content, media_type=REPORT_TYPES[fmt], headers=headers)


Month = Annotated[str, Query(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="YYYY-MM")]


@router.get(
    "/reports/monthly",
    tags=["reports"],
    response_class=HTMLResponse,
    summary="A printable monthly report / 月度报告",
    description="An HTML page for one calendar month of the scope: headline figures, the "
    "funnel, the daily trend, the units below and the ranking, from the same figures as "
    "/v1/stats. Scoped and logged like the other reports.",
)
async def monthly_report(
    principal: CurrentPrincipal, scope: ReadableScope, request: Request, month: Month
) -> HTMLResponse:
    year, number = (int(p) for p in month.split("-"))
    first = date(year, number, 1)
    last = date(year + number // 12, number % 12 + 1, 1) - timedelta(days=1)
    projection, body, days = await _report(principal, scope, request, first, last, "monthly")
    ranked = projection.ranking(scope, first, last)
    html = reports.monthly_page(month, body, days, ranked)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/categories", response_model=Categories, summary="Category names / 服务类别")
async def categories(_: CurrentPrincipal, request: Request) -> Categories:
    return Categories(items=_categories(request.app.state.settings))


def _categories(settings: MetricsSettings) -> list[Category]:
    slugs = [*CATEGORIES, *(s for s in settings.extra_categories if s not in CATEGORIES)]
    return [Category(slug=s, zh=CATEGORIES.get(s, s), en=CATEGORY_EN.get(s, s)) for s in slugs]


@lru_cache(maxsize=1)
def _page() -> str:
    return (STATIC / "dashboard.html").read_text(encoding="utf-8")


@pages.get(
    "/dashboard",
    response_class=HTMLResponse,
    openapi_extra=PUBLIC,
    summary="Operators' dashboard / 数据看板",
)
def dashboard(request: Request) -> HTMLResponse:
    """The page (static HTML/JS/CSS, no build step); its token comes from `?token=`."""
    settings: MetricsSettings = request.app.state.settings
    html = _page().replace("{{REFRESH_S}}", str(settings.metrics_dashboard_refresh_s))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
