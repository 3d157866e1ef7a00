"""Validation errors in words a resident reads: the field's Chinese name and what is wrong
with it (`评分须在 1 到 5 之间`), from pydantic's error type and the field's bounds."""

from __future__ import annotations

from typing import Any

# The Chinese name of every field a client sends (body, query, path or header).
FIELD_NAMES = {
    "name": "名称",
    "title": "标题",
    "description": "描述",
    "category": "类别",
    "categories": "类别",
    "kind": "类型",
    "slots": "名额",
    "requester": "求助人",
    "requester_id": "求助人编号",
    "beneficiaries": "受益人数",
    "beneficiaries_served": "服务人数",
    "goods_count": "物资数量",
    "funds_cents": "资金（分）",
    "location": "位置",
    "lat": "纬度",
    "lon": "经度",
    "skills": "技能",
    "skill": "技能",
    "due_at": "截止时间",
    "timezone": "时区",
    "reason": "原因",
    "note": "备注",
    "comment": "评价",
    "rating": "评分",
    "hours": "服务时长",
    "evidence_urls": "佐证链接",
    "volunteer_id": "志愿者编号",
    "team_id": "团队编号",
    "member_ids": "团队成员",
    "organization_id": "组织编号",
    "leader_id": "队长编号",
    "phone": "手机号",
    "home_community_id": "所在社区",
    "community_id": "社区",
    "party_org": "党组织",
    "pledge_signed": "服务承诺书",
    "service_type": "服务类型",
    "item": "兑换物品",
    "points": "积分",
    "status": "状态",
    "scope": "范围",
    "cursor": "分页游标",
    "limit": "每页条数",
    "q": "搜索词",
    "from": "开始日期",
    "to": "结束日期",
    "channel": "通知渠道",
    "target": "通知目标",
    "secret": "签名密钥",
    "recipient_id": "接收人编号",
    "event_types": "事件类型",
    "Idempotency-Key": "幂等键",
    "X-Correlation-Id": "关联编号",
    "body": "请求体",
}

# Status values as people say them.
STATUS_NAMES = {
    "pending": "待审核",
    "open": "待认领",
    "claimed": "已认领",
    "completed": "已完成",
    "confirmed": "已确认",
    "rejected": "已驳回",
    "cancelled": "已取消",
    "expired": "已过期",
    "active": "进行中",
    "released": "已释放",
}

Bounds = dict[str, Any]


class _Context(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def field_label(field: str) -> str:
    return FIELD_NAMES.get(field, field)


def _range(label: str, bounds: Bounds, ctx: dict[str, Any]) -> str:
    lo = bounds.get("ge", bounds.get("gt"))
    hi = bounds.get("le", bounds.get("lt"))
    if "ge" in bounds and "le" in bounds:
        return f"{label}须在 {lo} 到 {hi} 之间"
    if "ge" in ctx:
        return f"{label}须不小于 {ctx['ge']}"
    if "gt" in ctx:
        return f"{label}须大于 {ctx['gt']}"
    if "le" in ctx:
        return f"{label}须不大于 {ctx['le']}"
    return f"{label}须小于 {ctx.get('lt')}"


SIMPLE = {
    "missing": "请填写{label}",
    "extra_forbidden": "不接受字段“{label}”",
    "int_type": "{label}须为整数",
    "int_parsing": "{label}须为整数",
    "int_from_float": "{label}须为整数",
    "float_type": "{label}须为数字",
    "float_parsing": "{label}须为数字",
    "finite_number": "{label}须为有限数字",
    "bool_type": "{label}须为 true 或 false",
    "bool_parsing": "{label}须为 true 或 false",
    "string_type": "{label}须为文字",
    "string_pattern_mismatch": "{label}格式不正确",
    "list_type": "{label}须为列表",
    "dict_type": "{label}须为对象",
    "model_type": "{label}须为对象",
    "model_attributes_type": "{label}须为对象",
    "datetime_type": "{label}须为带时区的日期时间，如 2031-01-01T10:00:00+08:00",
    "datetime_parsing": "{label}须为带时区的日期时间，如 2031-01-01T10:00:00+08:00",
    "datetime_from_date_parsing": "{label}须为带时区的日期时间，如 2031-01-01T10:00:00+08:00",
    "timezone_aware": "{label}须带时区，如 2031-01-01T10:00:00+08:00",
    "date_type": "{label}须为日期，如 2026-12-01",
    "date_parsing": "{label}须为日期，如 2026-12-01",
    "date_from_datetime_parsing": "{label}须为日期，如 2026-12-01",
    "date_from_datetime_inexact": "{label}须为日期，如 2026-12-01",
    "day_range": "{label}须在 {lo} 到 {hi} 之间",
    "clock_time": "{label}须为时刻，如 22:00",
    "time_zone": "{label}须为 IANA 时区名，如 Asia/Shanghai",
    "day_format": "{label}须在 {lo} 到 {hi} 之间，格式如 2026-12-01",
    "moment_format": "{label}须在 {lo} 到 {hi} 之间，格式如 2031-01-01T10:00:00+08:00",
    "control_character": "{label}不能含控制字符",
    "bidi_character": "{label}不能含文字方向控制符",
    "invisible_character": "{label}不能含不可见字符",
    "blank": "{label}不能为空",
    "json_invalid": "请求体不是有效的 JSON",
    "literal_error": "{label}须为以下之一：{expected}",
    "enum": "{label}须为以下之一：{expected}",
    "bool": "{label}须为 true 或 false",
}


def describe(error: dict[str, Any], field: str, bounds: Bounds) -> str:
    """One validation error in Chinese. `bounds` are the field's declared ge/gt/le/lt."""
    kind = str(error.get("type", ""))
    ctx = {k: v for k, v in (error.get("ctx") or {}).items()}
    label = field_label(field) if field else "请求体"
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        return _range(label, bounds, ctx)
    if kind in ("string_too_short", "too_short"):
        if ctx.get("min_length", 1) <= 1:
            return f"{label}不能为空"
        return f"{label}至少 {ctx['min_length']} 个字"
    if kind in ("string_too_long", "too_long"):
        unit = "个字" if isinstance(error.get("input"), str) else "项"
        return f"{label}最多 {ctx.get('max_length')} {unit}"
    if kind in SIMPLE:
        return SIMPLE[kind].format_map(_Context(ctx, label=label))
    if kind == "value_error":
        reason = str(error.get("msg", "")).removeprefix("Value error, ")
        return f"{label}无效：{reason}"
    return f"{label}无效"
