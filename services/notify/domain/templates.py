"""Message templates, Chinese first, English on request. Pure functions of the event's facts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from services.notify.domain.audience import Language
from shared.categories import CATEGORIES


@dataclass(frozen=True)
class Message:
    title: str
    body: str


@dataclass(frozen=True)
class Context:
    """What the event does not carry but a reader wants: names rather than ids."""

    need_title: str | None = None
    community_name: str | None = None
    distance_km: float | None = None


# (title, body) per language, keyed by (event type, reason[, variant]).
Templates = dict[Language, tuple[str, str]]
TEMPLATES: dict[tuple[str, ...], Templates] = {
    ("org.tongxin.need.posted", "requester"): {
        "zh": ("需求已提交", "您的需求“{title}”已提交，等待{community}审核。"),
        "en": ("Need received", 'Your need "{title}" was received; {community} will review it.'),
    },
    ("org.tongxin.need.approved", "requester"): {
        "zh": ("需求已立项", "您的需求“{title}”已通过审核，正在等待志愿者认领。"),
        "en": ("Need approved", 'Your need "{title}" was approved and is open for volunteers.'),
    },
    ("org.tongxin.need.approved", "match"): {
        "zh": (
            "新的服务项目",
            "{community}有新的{category}项目“{title}”，需要{slots}人{distance}。欢迎认领！",
        ),
        "en": (
            "A new project near you",
            '{community} has a new {category} project "{title}" needing {slots}{distance}.',
        ),
    },
    ("org.tongxin.need.rejected", "requester"): {
        "zh": ("需求未通过审核", "您的需求“{title}”未通过审核：{reason}"),
        "en": ("Need not approved", 'Your need "{title}" was not approved: {reason}'),
    },
    ("org.tongxin.need.cancelled", "requester"): {
        "zh": ("需求已取消", "您的需求“{title}”已被取消。{reason}"),
        "en": ("Need cancelled", 'Your need "{title}" was cancelled. {reason}'),
    },
    ("org.tongxin.need.cancelled", "claimer"): {
        "zh": ("项目已取消", "您认领的“{title}”已取消，无需再前往服务。"),
        "en": ("Project cancelled", 'The project "{title}" you claimed was cancelled.'),
    },
    ("org.tongxin.project.claimed", "requester"): {
        "zh": ("有人认领了您的需求", "您的需求“{title}”已被认领（{taken}/{total}）。"),
        "en": ("Your need was claimed", 'Your need "{title}" was claimed ({taken}/{total}).'),
    },
    ("org.tongxin.project.claimed", "team"): {
        "zh": ("服务队认领了项目", "您所在的服务队认领了“{title}”，请与队长确认安排。"),
        "en": (
            "Your team claimed a project",
            'Your team claimed "{title}"; check with your leader.',
        ),
    },
    ("org.tongxin.project.claim_released", "requester"): {
        "zh": ("认领已释放", "“{title}”的一项认领已释放，名额重新开放（{taken}/{total}）。"),
        "en": ("A claim was released", 'A claim on "{title}" was released ({taken}/{total}).'),
    },
    ("org.tongxin.project.claim_released", "claimer", "expired"): {
        "zh": ("认领已超期释放", "您认领的“{title}”未按期完成，认领已自动释放。"),
        "en": ("Claim expired", 'Your claim on "{title}" expired and was released.'),
    },
    ("org.tongxin.project.claim_released", "claimer"): {
        "zh": ("认领已被释放", "您对“{title}”的认领已被管理员释放。"),
        "en": ("Claim released", 'Your claim on "{title}" was released by an administrator.'),
    },
    ("org.tongxin.task.completed", "requester"): {
        "zh": ("服务已完成", "“{title}”的服务已完成，请确认并评价。"),
        "en": ("Service completed", 'The service for "{title}" is done; please confirm and rate.'),
    },
    ("org.tongxin.task.confirmed", "claimer"): {
        "zh": ("服务已确认", "“{title}”的服务已获确认，评分{rating}星。感谢您的付出！"),
        "en": (
            "Service confirmed",
            'Your service for "{title}" was confirmed: {rating}/5. Thank you!',
        ),
    },
    ("org.tongxin.reminder.due", "claimer", "claim_due"): {
        "zh": ("认领即将到期", "您认领的“{title}”将于24小时内到期，请及时完成服务并登记。"),
        "en": ("Claim due soon", 'Your claim on "{title}" is due within 24 hours.'),
    },
    ("org.tongxin.reminder.due", "requester", "confirm_service"): {
        "zh": ("请确认服务", "“{title}”的服务已完成，请确认服务时长并评价。"),
        "en": ("Please confirm", 'The service for "{title}" is done; please confirm it.'),
    },
    ("org.tongxin.points.credited", "volunteer"): {
        "zh": ("积分到账", "您获得{points}积分（服务{hours}小时），当前余额{balance}，{stars}星。"),
        "en": ("Points credited", "You earned {points} points ({hours} h); balance {balance}."),
    },
}

TYPE_LABELS: dict[str, tuple[str, str]] = {
    "org.tongxin.need.posted": ("新需求", "Need posted"),
    "org.tongxin.need.approved": ("需求立项", "Need approved"),
    "org.tongxin.need.rejected": ("需求未通过", "Need rejected"),
    "org.tongxin.need.cancelled": ("需求取消", "Need cancelled"),
    "org.tongxin.project.claimed": ("项目认领", "Project claimed"),
    "org.tongxin.project.claim_released": ("认领释放", "Claim released"),
    "org.tongxin.task.completed": ("服务完成", "Service completed"),
    "org.tongxin.task.confirmed": ("服务确认", "Service confirmed"),
    "org.tongxin.volunteer.registered": ("志愿者报到", "Volunteer reported in"),
    "org.tongxin.team.formed": ("服务队成立", "Team formed"),
    "org.tongxin.points.credited": ("积分到账", "Points credited"),
    "org.tongxin.reminder.due": ("提醒", "Reminder"),
}

GENERIC: Templates = {
    "zh": ("{label}", "【{community}】{label}：{title}"),
    "en": ("{label}", "[{community}] {label}: {title}"),
}


class _Values(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def category_name(slug: str, language: Language) -> str:
    if language == "zh":
        return CATEGORIES.get(slug, slug)
    return slug.replace("_", " ")


def community_name(path: str, name: str | None) -> str:
    return name or path.rsplit(".", 1)[-1]


def render(
    event_type: str,
    reason: str,
    data: Mapping[str, Any],
    community_id: str,
    context: Context,
    language: Language = "zh",
) -> Message:
    """The message one recipient reads about one event."""
    variant = str(data.get("reason") or "")
    templates = (
        TEMPLATES.get((event_type, reason, variant))
        or TEMPLATES.get((event_type, reason))
        or GENERIC
    )
    zh = language == "zh"
    label = TYPE_LABELS.get(event_type, (event_type, event_type))[0 if zh else 1]
    title = data.get("title") or context.need_title or ("一项需求" if zh else "a need")
    distance = ""
    if context.distance_km is not None:
        km = f"{context.distance_km:.1f}"
        distance = f"，距您约{km}公里" if zh else f" ({km} km from you)"
    slots = data.get("slots", 1)
    values = _Values(
        data,
        title=title,
        label=label,
        community=community_name(community_id, context.community_name),
        category=category_name(str(data.get("category", "other")), language),
        distance=distance,
        slots=slots if zh else f"{slots} volunteer{'s' if slots != 1 else ''}",
        taken=data.get("slots_taken", ""),
        total=data.get("slots_total", ""),
        reason=data.get("reason") or "",
    )
    subject, body = templates[language]
    return Message(subject.format_map(values), body.format_map(values).strip())


@dataclass(frozen=True)
class DigestLine:
    label: str
    text: str


def render_digest(period: str, lines: Sequence[DigestLine], language: Language = "zh") -> Message:
    """The daily digest: how many items, and the first twenty of them."""
    zh = language == "zh"
    shown = lines[:20]
    more = len(lines) - len(shown)
    if zh:
        rows = [f"· {line.label}：{line.text}" for line in shown]
        head = f"{period} 共有{len(lines)}条新消息："
        tail = [f"……另有{more}条，请在应用中查看。"] if more else []
        return Message(f"同心每日摘要（{period}）", "\n".join([head, *rows, *tail]))
    rows = [f"- {line.label}: {line.text}" for line in shown]
    head = f"{len(lines)} new notifications on {period}:"
    tail = [f"... and {more} more in the app."] if more else []
    return Message(f"Tongxin daily digest ({period})", "\n".join([head, *rows, *tail]))


def render_burst(event_type: str, community: str, count: int, language: Language = "zh") -> Message:
    """One message for a burst of one event type in one scope (a bulk import)."""
    zh = language == "zh"
    if event_type == "org.tongxin.volunteer.registered":
        if zh:
            return Message("志愿者报到汇总", f"{community}新报到志愿者 {count:,} 名")
        return Message(
            "Volunteers registered", f"{count:,} new volunteers registered in {community}"
        )
    if zh:
        return Message("消息汇总", f"{community}：{event_type} 共 {count:,} 条，请在应用中查看。")
    return Message("Summary", f"{community}: {count:,} × {event_type}; see the app.")
