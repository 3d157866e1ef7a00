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
Rows = Literal["needs", "claims", "completions", "volunteers", "teams"]

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
    definition_zh: str = ""
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
       "Needs posted in the window.", daily=True, rows="needs",
       definition_zh="统计期内征集（提交）的需求数。"),
    Figure("needs_approved", "立项", "Approved", "count",
       "Needs approved (or posted straight into the project library) in the window.",
       daily=True, rows="needs",
       definition_zh="统计期内审核通过立项（或直接进入项目库）的需求数。"),
    Figure("needs_rejected", "驳回", "Rejected", "count",
       "Needs rejected in review in the window.", daily=True, rows="needs",
       definition_zh="统计期内审核驳回的需求数。"),
    Figure("needs_cancelled", "取消", "Cancelled", "count",
       "Needs cancelled in the window.", rows="needs",
       definition_zh="统计期内取消的需求数。"),
    Figure("claims", "认领次数", "Claims", "count",
       "Claims made in the window, of any claimant type, released later or not.",
       daily=True, rows="claims",
       definition_zh="统计期内的认领次数，不论认领方类型，也不论之后是否释放。"),
    Figure("team_claims", "团队认领", "Team claims", "count",
       "Claims made by volunteer service teams in the window (a subset of claims).",
       rows="claims",
       definition_zh="统计期内志愿服务队的认领次数（认领次数的一部分）。"),
    Figure("organization_claims", "单位认领", "Organisation claims", "count",
       "Claims made by enterprises or social organisations in the window (a subset of claims).",
       rows="claims",
       definition_zh="统计期内企业、社会组织的认领次数（认领次数的一部分）。"),
    Figure("claims_released", "释放认领", "Claims released", "count",
       "Releases (by the claimer, an admin, or expiry) in the window.", rows="claims",
       definition_zh="统计期内释放的认领（认领方、管理员释放或到期）。"),
    Figure("needs_claimed", "已认领", "Claimed", "count",
       "Needs that reached `claimed` (every slot taken) for the first time in the window.",
       daily=True, rows="needs",
       definition_zh="统计期内首次满员（所有名额均被认领）的需求数。"),
    Figure("tasks_completed", "已完成", "Completed", "count",
       "Needs completed in the window.", daily=True, rows="needs",
       definition_zh="统计期内完成的需求数。"),
    Figure("tasks_confirmed", "已确认", "Confirmed", "count",
       "Completions confirmed in the window.", daily=True, rows="completions",
       definition_zh="统计期内得到确认的完成记录数。"),
    Figure("claim_rate", "认领率", "Claim rate", "ratio",
       "Needs approved in the window that have reached `claimed` since, over needs_approved; "
       "null when needs_approved is 0.", nullable=True,
       definition_zh="统计期内立项的需求中此后已满员认领的比例；立项数为 0 时为空。"),
    Figure("completion_rate", "完成率", "Completion rate", "ratio",
       "Needs that reached `claimed` in the window and have been completed since, over "
       "needs_claimed; null when needs_claimed is 0.", nullable=True,
       definition_zh="统计期内满员认领的需求中此后已完成的比例；满员认领数为 0 时为空。"),
    Figure("median_time_to_claim_s", "认领用时中位数", "Median time to claim", "seconds",
       "Median seconds from approval to the first time every slot was taken, over "
       "needs_claimed (exact median); null when there is none.", nullable=True,
       definition_zh="从立项到首次满员认领的用时中位数（精确中位数）；没有时为空。"),
    Figure("median_time_to_complete_s", "完成用时中位数", "Median time to complete", "seconds",
       "Median seconds from that moment to completion, over tasks_completed; null when "
       "there is none.", nullable=True,
       definition_zh="从满员认领到完成的用时中位数；没有时为空。"),
    Figure("beneficiaries_served", "服务群众", "Beneficiaries served", "count",
       "Beneficiaries served (person-times), summed over the verified figures of completions "
       "recorded in the window.",
       daily=True,
       definition_zh="统计期内完成记录中的服务群众人次之和。"),
    Figure("volunteer_hours", "服务时长", "Service hours", "hours",
       "Verified volunteer service hours (decimal), summed over completions recorded in the "
       "window.",
       daily=True,
       definition_zh="统计期内完成记录中的志愿服务时长之和（小时，含小数）。"),
    Figure("goods_count", "物资", "Goods", "count",
       "Goods handed over (items), summed over completions recorded in the window.",
       definition_zh="统计期内完成记录中的发放物资件数之和。"),
    Figure("funds_cents", "资金", "Funds", "fen",
       "Funds spent (fen), summed over completions recorded in the window.",
       definition_zh="统计期内完成记录中的使用资金之和（分）。"),
    Figure("pending_completions", "待核实完成", "Completions pending", "count",
       "Completions recorded in the window whose hours await verification (the resident, "
       "review or a dispute); their figures are not in the sums above.",
       definition_zh="统计期内时长尚待核实（待居民确认、审核中或有异议）的完成记录数，"
       "不计入上列合计。"),
    Figure("pending_beneficiaries_served", "待核实服务群众", "Beneficiaries pending", "count",
       "Declared beneficiaries of the pending completions.",
       definition_zh="待核实完成记录中申报的服务群众人次。"),
    Figure("pending_volunteer_hours", "待核实服务时长", "Service hours pending", "hours",
       "Declared hours of the pending completions.",
       definition_zh="待核实完成记录中申报的服务时长。"),
    Figure("pending_goods_count", "待核实物资", "Goods pending", "count",
       "Declared goods of the pending completions.",
       definition_zh="待核实完成记录中申报的物资件数。"),
    Figure("pending_funds_cents", "待核实资金", "Funds pending", "fen",
       "Declared funds (fen) of the pending completions.",
       definition_zh="待核实完成记录中申报的资金（分）。"),
    Figure("average_rating", "平均评分", "Average rating", "rating",
       "Mean rating (1–5) of confirmations in the window; null when none.", nullable=True,
       definition_zh="统计期内确认时评分（1–5）的平均值；没有时为空。"),
    Figure("on_time_rate", "按时完成率", "On-time rate", "ratio",
       "Share of tasks_completed completed by the need's due_at (no due_at counts as on "
       "time); null when none.", nullable=True,
       definition_zh="已完成需求中在截止时间前完成的比例（无截止时间视为按时）；没有时为空。"),
    Figure("volunteers_registered", "报到志愿者", "Volunteers reported", "count",
       "Volunteers reported in to a community of the scope (their home) in the window, "
       "party members or not.", group="unit", daily=True, rows="volunteers",
       definition_zh="统计期内到本范围内社区（其所在社区）报到的志愿者，含党员和非党员。"),
    Figure("party_members_registered", "其中党员", "of them party members", "count",
       "Of volunteers_registered, those with a party organisation recorded (党员).",
       group="unit", rows="volunteers",
       definition_zh="报到志愿者中登记了所属党组织的人数（党员）。"),
    Figure("volunteers_active", "参与志愿者", "Active volunteers", "count",
       "Volunteers whose home is in the scope, registered by the window's end, who took "
       "part in a claim made or a completion recorded in the window (anywhere).",
       group="unit", rows="volunteers",
       definition_zh="所在社区在本范围内、统计期结束前已报到、并在统计期内参与认领或完成服务的志愿者人数（服务地点不限）。"),
    Figure("volunteer_participation", "志愿者参与率", "Volunteer participation", "ratio",
       "volunteers_active over the volunteers registered by the window's end whose home is "
       "in the scope; null when none. Reported only: the pioneer index uses the count "
       "volunteers_active instead.", group="unit", nullable=True,
       definition_zh="参与志愿者占统计期结束前已报到志愿者的比例；仅作展示，先锋指数改用参与志愿者人数。"),
    Figure("teams", "志愿服务队", "Service teams", "count",
       "Volunteer service teams formed in the window.", group="unit", daily=True, rows="teams",
       definition_zh="统计期内组建的志愿服务队数。"),
    Figure("organizations", "共建单位", "Organisations", "count",
       "Enterprises and social organisations registered in the window.", group="unit",
       definition_zh="统计期内登记的企业、社会组织数。"),
    Figure("notifications_delivered", "通知送达", "Notifications delivered", "count",
       "Notifications about the scope's events delivered in the window.", group="unit",
       definition_zh="统计期内与本范围事件有关、已送达的通知数。"),
    Figure("notifications_failed", "通知失败", "Notifications failed", "count",
       "Notifications about the scope's events that failed in the window.", group="unit",
       definition_zh="统计期内与本范围事件有关、发送失败的通知数。"),
    Figure("pioneer_index", "先锋指数", "Pioneer index", "index",
       f"{PIONEER_FORMULA_EN}. Null for a street or district without communities.",
       group="unit", nullable=True,
       definition_zh=f"{PIONEER_FORMULA_ZH}。街道、区没有下属社区时为空。"),
    Figure("pending_review_over_3d", "待审核超3天", "Pending review > 3 days", "count",
       f"Needs waiting for review now, posted more than {PENDING_REVIEW_DAYS} days ago "
       "(not windowed).", group="backlog", rows="needs",
       definition_zh="当前仍待审核、提交已超过 3 天的需求（不按统计期）。"),
    Figure("claimed_overdue", "认领后逾期", "Claimed but overdue", "count",
       "Needs with a claim held now, not completed or cancelled, past their due_at "
       "(not windowed).", group="backlog", rows="needs",
       definition_zh="当前有人认领、尚未完成或取消、已过截止时间的需求（不按统计期）。"),
    Figure("completed_unconfirmed", "完成待确认", "Completed, unconfirmed", "count",
       "Needs completed but not yet confirmed, now (not windowed).", group="backlog",
       rows="needs",
       definition_zh="当前已完成、尚未确认的需求（不按统计期）。"),
)
# fmt: on

BY_NAME: dict[str, Figure] = {f.name: f for f in FIGURES}
NEED_FIGURES: tuple[str, ...] = tuple(f.name for f in FIGURES if f.group == "need")
UNIT_FIGURES: tuple[str, ...] = tuple(f.name for f in FIGURES)
DAILY_FIGURES: tuple[str, ...] = tuple(f.name for f in FIGURES if f.daily)
LISTED: tuple[str, ...] = tuple(f.name for f in FIGURES if f.rows is not None)


def definitions() -> str:
    """The figures' definitions as Markdown, for the OpenAPI description and the docs."""
    lines = [
        f"- `{f.name}` ({f.zh}, {f.unit_en}): {f.definition} {f.definition_zh}" for f in FIGURES
    ]
    return "\n".join(lines)


def markdown_table() -> str:
    """The catalogue as the table in docs/metrics.md
    (`python -m services.metrics.domain.catalogue`)."""
    lines = [
        "| Figure | 名称 | Name | Unit | Given | List | Definition | 定义 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for f in FIGURES:
        given = {"need": "unit, category", "unit": "unit", "backlog": "unit, now"}[f.group]
        given += ", daily" if f.daily else ""
        lines.append(
            f"| `{f.name}` | {f.zh} | {f.en} | {f.unit_en} | {given} | {f.rows or ''} "
            f"| {f.definition} | {f.definition_zh} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
