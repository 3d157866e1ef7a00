"""The figures, declared once: name, Chinese and English label, unit, definition. No I/O.

The tally (figures.py) computes exactly these names, the API builds its response models and
OpenAPI descriptions from them, the reports take their headers from them and the dashboard
reads them from `GET /v1/figures`. To add a figure: declare it here, compute it in
`figures.Tally.figures` (a count needs only an entry in `figures.need_counts` or
`figures.volunteer_counts`), and every view shows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Unit = Literal["count", "ratio", "seconds", "hours", "fen", "rating", "index"]
# Where a figure is given: "need" figures also per category; "unit" figures per org unit
# only; "backlog" figures are the needs in a state now (not a window's flow).
Group = Literal["need", "unit", "backlog"]
# What the list behind a count shows (None: no list, e.g. a rate or a sum).
Rows = Literal["needs", "claims", "completions", "volunteers"]

UNITS: dict[Unit, tuple[str, str]] = {
    "count": ("个", "count"),
    "ratio": ("比例（0–1）", "fraction 0–1"),
    "seconds": ("秒", "seconds"),
    "hours": ("小时", "hours"),
    "fen": ("分（人民币）", "fen (CNY/100)"),
    "rating": ("分（1–5）", "1–5"),
    "index": ("分（0–100）", "0–100"),
}

PENDING_REVIEW_DAYS = 3
# The pioneer index's participation part: the community's active volunteers in the window,
# up to this many (then full marks). A count, not a share of the registered, so reporting
# in more volunteers can never lower the index.
ACTIVE_VOLUNTEERS_NORM = 20
PIONEER_WEIGHTS: dict[str, float] = {
    "completion_rate": 0.25,
    "claim_rate": 0.25,
    "participation": 0.20,
    "average_rating": 0.15,
    "on_time_rate": 0.15,
}
PIONEER_FORMULA_ZH = (
    "先锋指数 = 100 ×（0.25×完成率 + 0.25×认领率 + 0.20×min(1, 参与志愿者数 / "
    f"{ACTIVE_VOLUNTEERS_NORM}) + 0.15×(平均评分 − 1)/4 + 0.15×按时完成率）；"
    "缺项按 0 计；街道、区为其下各社区指数的平均值"
)
PIONEER_FORMULA_EN = (
    "pioneer index = 100 × (0.25 completion rate + 0.25 claim rate + 0.20 min(1, active "
    f"volunteers / {ACTIVE_VOLUNTEERS_NORM}) + 0.15 (average rating − 1) / 4 + 0.15 on-time "
    "rate); a missing part counts as 0; a street or district takes the mean of its "
    "communities' indices"
)


@dataclass(frozen=True)
class Figure:
    name: str
    zh: str
    en: str
    unit: Unit
    definition: str
    group: Group = "need"
    daily: bool = False  # in the daily series
    rows: Rows | None = None  # the list behind the count
    nullable: bool = False

    @property
    def unit_zh(self) -> str:
        return UNITS[self.unit][0]

    @property
    def unit_en(self) -> str:
        return UNITS[self.unit][1]


# fmt: off
FIGURES: tuple[Figure, ...] = (
    Figure("needs_posted", "需求征集", "Needs posted", "count",
       "Needs posted in the window.", daily=True, rows="needs"),
    Figure("needs_approved", "立项", "Approved", "count",
       "Needs approved (or posted straight into the project library) in the window.",
       daily=True, rows="needs"),
    Figure("needs_rejected", "驳回", "Rejected", "count",
       "Needs rejected in review in the window.", daily=True, rows="needs"),
    Figure("needs_cancelled", "取消", "Cancelled", "count",
       "Needs cancelled in the window.", rows="needs"),
    Figure("claims", "认领次数", "Claims", "count",
       "Claims made in the window, of any claimant type, released later or not.",
       daily=True, rows="claims"),
    Figure("team_claims", "团队认领", "Team claims", "count",
       "Claims made by volunteer service teams in the window (a subset of claims).",
       rows="claims"),
    Figure("organization_claims", "单位认领", "Organisation claims", "count",
       "Claims made by enterprises or social organisations in the window (a subset of claims).",
       rows="claims"),
    Figure("claims_released", "释放认领", "Claims released", "count",
       "Releases (by the claimer, an admin, or expiry) in the window.", rows="claims"),
    Figure("needs_claimed", "已认领", "Claimed", "count",
       "Needs that reached `claimed` (every slot taken) for the first time in the window.",
       daily=True, rows="needs"),
    Figure("tasks_completed", "已完成", "Completed", "count",
       "Needs completed in the window.", daily=True, rows="needs"),
    Figure("tasks_confirmed", "已确认", "Confirmed", "count",
       "Completions confirmed in the window.", daily=True, rows="completions"),
    Figure("claim_rate", "认领率", "Claim rate", "ratio",
       "Needs approved in the window that have reached `claimed` since, over needs_approved; "
       "null when needs_approved is 0.", nullable=True),
    Figure("completion_rate", "完成率", "Completion rate", "ratio",
       "Needs that reached `claimed` in the window and have been completed since, over "
       "needs_claimed; null when needs_claimed is 0.", nullable=True),
    Figure("median_time_to_claim_s", "认领用时中位数", "Median time to claim", "seconds",
       "Median seconds from approval to the first time every slot was taken, over "
       "needs_claimed (exact median); null when there is none.", nullable=True),
    Figure("median_time_to_complete_s", "完成用时中位数", "Median time to complete", "seconds",
       "Median seconds from that moment to completion, over tasks_completed; null when "
       "there is none.", nullable=True),
    Figure("beneficiaries_served", "服务群众", "Beneficiaries served", "count",
       "Beneficiaries served (person-times), summed over completions recorded in the window.",
       daily=True),
    Figure("volunteer_hours", "服务时长", "Service hours", "hours",
       "Volunteer service hours (decimal), summed over completions recorded in the window.",
       daily=True),
    Figure("goods_count", "物资", "Goods", "count",
       "Goods handed over (items), summed over completions recorded in the window."),
    Figure("funds_cents", "资金", "Funds", "fen",
       "Funds spent (fen), summed over completions recorded in the window."),
    Figure("average_rating", "平均评分", "Average rating", "rating",
       "Mean rating (1–5) of confirmations in the window; null when none.", nullable=True),
    Figure("on_time_rate", "按时完成率", "On-time rate", "ratio",
       "Share of tasks_completed completed by the need's due_at (no due_at counts as on "
       "time); null when none.", nullable=True),
    Figure("volunteers_registered", "报到志愿者", "Volunteers reported", "count",
       "Volunteers reported in to a community of the scope (their home) in the window, "
       "party members or not.", group="unit", daily=True, rows="volunteers"),
    Figure("party_members_registered", "其中党员", "of them party members", "count",
       "Of volunteers_registered, those with a party organisation recorded (党员).",
       group="unit", rows="volunteers"),
    Figure("volunteers_active", "参与志愿者", "Active volunteers", "count",
       "Volunteers whose home is in the scope, registered by the window's end, who took "
       "part in a claim made or a completion recorded in the window (anywhere).",
       group="unit", rows="volunteers"),
    Figure("volunteer_participation", "志愿者参与率", "Volunteer participation", "ratio",
       "volunteers_active over the volunteers registered by the window's end whose home is "
       "in the scope; null when none. Reported only: the pioneer index uses the count "
       "volunteers_active instead.", group="unit", nullable=True),
    Figure("teams", "志愿服务队", "Service teams", "count",
       "Volunteer service teams formed in the window.", group="unit", daily=True),
    Figure("organizations", "共建单位", "Organisations", "count",
       "Enterprises and social organisations registered in the window.", group="unit"),
    Figure("notifications_delivered", "通知送达", "Notifications delivered", "count",
       "Notifications about the scope's events delivered in the window.", group="unit"),
    Figure("notifications_failed", "通知失败", "Notifications failed", "count",
       "Notifications about the scope's events that failed in the window.", group="unit"),
    Figure("pioneer_index", "先锋指数", "Pioneer index", "index",
       f"{PIONEER_FORMULA_EN}. Null for a street or district without communities.",
       group="unit", nullable=True),
    Figure("pending_review_over_3d", "待审核超3天", "Pending review > 3 days", "count",
       f"Needs waiting for review now, posted more than {PENDING_REVIEW_DAYS} days ago "
       "(not windowed).", group="backlog", rows="needs"),
    Figure("claimed_overdue", "认领后逾期", "Claimed but overdue", "count",
       "Needs with a claim held now, not completed or cancelled, past their due_at "
       "(not windowed).", group="backlog", rows="needs"),
    Figure("completed_unconfirmed", "完成待确认", "Completed, unconfirmed", "count",
       "Needs completed but not yet confirmed, now (not windowed).", group="backlog",
       rows="needs"),
)
# fmt: on

BY_NAME: dict[str, Figure] = {f.name: f for f in FIGURES}
NEED_FIGURES: tuple[str, ...] = tuple(f.name for f in FIGURES if f.group == "need")
UNIT_FIGURES: tuple[str, ...] = tuple(f.name for f in FIGURES)
DAILY_FIGURES: tuple[str, ...] = tuple(f.name for f in FIGURES if f.daily)
LISTED: tuple[str, ...] = tuple(f.name for f in FIGURES if f.rows is not None)


def definitions() -> str:
    """The figures' definitions as Markdown, for the OpenAPI description and the docs."""
    lines = [f"- `{f.name}` ({f.zh}, {f.unit_en}): {f.definition}" for f in FIGURES]
    return "\n".join(lines)


def markdown_table() -> str:
    """The catalogue as the table in docs/metrics.md (`python -m services.metrics.catalogue`)."""
    lines = [
        "| Figure | 名称 | Name | Unit | Given | List | Definition |",
        "|---|---|---|---|---|---|---|",
    ]
    for f in FIGURES:
        given = {"need": "unit, category", "unit": "unit", "backlog": "unit, now"}[f.group]
        given += ", daily" if f.daily else ""
        lines.append(
            f"| `{f.name}` | {f.zh} | {f.en} | {f.unit_en} | {given} | {f.rows or ''} "
            f"| {f.definition} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
