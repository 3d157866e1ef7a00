"""The metrics API's response models. The figures' fields are made from the catalogue, so
each one's type and OpenAPI description come from its one declaration."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import BaseModel, Field, create_model

from services.metrics.domain import catalogue


def _figure_fields(names: tuple[str, ...]) -> dict[str, Any]:
    """Pydantic fields of the catalogue's figures, each described by its definition."""
    fields: dict[str, Any] = {}
    for name in names:
        f = catalogue.BY_NAME[name]
        kind: Any = int if f.unit in ("count", "fen") else float
        text = f"{f.zh}：{f.definition_zh} / {f.en} ({f.unit_en}): {f.definition}"
        described = Field(description=text)
        fields[name] = (kind | None if f.nullable else kind, described)
    return fields


class UnitRef(BaseModel):
    scope: str
    name: str


NeedFigures = create_model("NeedFigures", **_figure_fields(catalogue.NEED_FIGURES))
UnitFigures = create_model(
    "UnitFigures",
    scope=(str, ...),
    name=(str, ...),
    level=(str, Field(description="district, street, community or grid")),
    **_figure_fields(catalogue.UNIT_FIGURES),
)
Stats = create_model(
    "Stats",
    __base__=UnitFigures,
    window_from=(date | None, Field(alias="from", serialization_alias="from")),
    window_to=(date | None, Field(alias="to", serialization_alias="to")),
    timezone=(str, ...),
    generation=(int, Field(description="the projection generation that answered")),
    ancestors=(list[UnitRef], Field(description="the units above the scope, top first")),
    by_category=(dict[str, NeedFigures], ...),
    children=(list[UnitFigures], ...),
)
DailyRow = create_model("DailyRow", day=(date, ...), **_figure_fields(catalogue.DAILY_FIGURES))
RankedCommunity = create_model("RankedCommunity", __base__=UnitFigures, rank=(int, ...))


class Daily(BaseModel):
    scope: str
    window_from: date = Field(alias="from", serialization_alias="from")
    window_to: date = Field(alias="to", serialization_alias="to")
    timezone: str
    days: list[DailyRow]


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


class FigureSpec(BaseModel):
    name: str
    zh: str
    en: str
    unit: str
    unit_zh: str
    unit_en: str
    definition: str
    definition_zh: str
    group: str = Field(description="need (also per category), unit, or backlog (a state now)")
    daily: bool = Field(description="in the daily series")
    rows: str | None = Field(description="what the list behind the count shows, if any")


class FigureCatalogue(BaseModel):
    pioneer_formula_zh: str
    pioneer_formula_en: str
    items: list[FigureSpec]


class Rows(BaseModel):
    figure: str
    scope: str
    window_from: date | None = Field(alias="from", serialization_alias="from")
    window_to: date | None = Field(alias="to", serialization_alias="to")
    category: str | None
    total: int = Field(description="the figure's value: /v1/stats gives the same count")
    items: list[dict[str, Any]] = Field(
        description="needs, claims, completions or volunteers (names masked, no phones)"
    )
