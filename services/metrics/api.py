"""HTTP → queries of the metrics service: stats, daily series, ranking, the dashboard page."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from services.metrics.figures import DEFINITIONS
from services.metrics.policy import ReadableScope
from services.metrics.projection import Projection
from shared.auth import CurrentPrincipal
from shared.categories import CATEGORIES
from shared.http import ApiError
from shared.settings import Settings

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

From = Annotated[date | None, Query(alias="from", description="First day (YYYY-MM-DD), inclusive.")]
To = Annotated[date | None, Query(alias="to", description="Last day (YYYY-MM-DD), inclusive.")]


class NeedFigures(BaseModel):
    needs_posted: int
    needs_approved: int
    needs_rejected: int
    needs_cancelled: int
    claims: int
    team_claims: int
    organization_claims: int
    claims_released: int
    needs_claimed: int
    tasks_completed: int
    tasks_confirmed: int
    claim_rate: float | None = Field(description="0–1; null when needs_approved is 0")
    completion_rate: float | None = Field(description="0–1; null when needs_claimed is 0")
    median_time_to_claim_s: float | None
    median_time_to_complete_s: float | None
    beneficiaries_served: int
    volunteer_hours: float = Field(description="decimal hours")
    goods_count: int
    funds_cents: int = Field(description="fen")
    pending_completions: int = Field(description="completions whose hours await verification")
    pending_beneficiaries_served: int
    pending_volunteer_hours: float = Field(description="declared, not yet verified")
    pending_goods_count: int
    pending_funds_cents: int
    average_rating: float | None
    on_time_rate: float | None


class UnitFigures(NeedFigures):
    scope: str
    name: str
    level: str = Field(description="district, street, community or grid")
    volunteers_registered: int
    teams: int
    organizations: int
    volunteer_participation: float | None
    notifications_delivered: int
    notifications_failed: int
    pioneer_index: float | None = Field(description="先锋指数 0–100")


class Stats(UnitFigures):
    window_from: date | None = Field(alias="from", serialization_alias="from")
    window_to: date | None = Field(alias="to", serialization_alias="to")
    timezone: str
    generation: int = Field(description="the projection generation that answered")
    by_category: dict[str, NeedFigures]
    children: list[UnitFigures]


class DailyRow(BaseModel):
    day: date
    needs_posted: int
    needs_approved: int
    needs_rejected: int
    claims: int
    needs_claimed: int
    tasks_completed: int
    tasks_confirmed: int
    beneficiaries_served: int
    volunteer_hours: float
    volunteers_registered: int
    teams: int


class Daily(BaseModel):
    scope: str
    window_from: date = Field(alias="from", serialization_alias="from")
    window_to: date = Field(alias="to", serialization_alias="to")
    timezone: str
    days: list[DailyRow]


class RankedCommunity(UnitFigures):
    rank: int


class Ranking(BaseModel):
    scope: str
    window_from: date | None = Field(alias="from", serialization_alias="from")
    window_to: date | None = Field(alias="to", serialization_alias="to")
    items: list[RankedCommunity]


class Category(BaseModel):
    slug: str
    zh: str
    en: str


class Categories(BaseModel):
    items: list[Category]


async def _projection(request: Request) -> Projection:
    """The projection once its facts are loaded (a few seconds after start at most)."""
    projection: Projection = request.app.state.projection
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
    projection = await _projection(request)
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


@router.get("/categories", response_model=Categories, summary="Category names / 服务类别")
async def categories(_: CurrentPrincipal, request: Request) -> Categories:
    settings: Settings = request.app.state.settings
    slugs = [*CATEGORIES, *(s for s in settings.extra_categories if s not in CATEGORIES)]
    return Categories(
        items=[Category(slug=s, zh=CATEGORIES.get(s, s), en=CATEGORY_EN.get(s, s)) for s in slugs]
    )


@lru_cache(maxsize=1)
def _page() -> str:
    return (STATIC / "dashboard.html").read_text(encoding="utf-8")


@pages.get("/dashboard", response_class=HTMLResponse, summary="Operators' dashboard / 数据看板")
def dashboard(request: Request) -> HTMLResponse:
    """The page (static HTML/JS/CSS, no build step); its token comes from `?token=`."""
    settings: Settings = request.app.state.settings
    html = _page().replace("{{REFRESH_S}}", str(settings.metrics_dashboard_refresh_s))
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})
