"""Service categories of docs/domain.md (stable slugs) with their Chinese names."""

from __future__ import annotations

CATEGORIES: dict[str, str] = {
    "childcare": "幼有所育",
    "elderly_care": "老有所养",
    "medical": "病有所医",
    "food_safety": "食有所安",
    "culture_leisure": "居有所乐",
    "public_affairs": "事有所办",
    "education_aid": "助学",
    "legal_aid": "法律援助",
    "domestic_help": "家政服务",
    "dispute_mediation": "矛盾纠纷调解",
    "security_patrol": "治安巡防",
    "policy_outreach": "政策宣传",
    "hardship_relief": "帮扶解困",
    "other": "其他",
}


def known_categories(extra: list[str]) -> frozenset[str]:
    return frozenset(CATEGORIES) | frozenset(extra)
