"""Service categories of docs/domain.md (stable slugs) with their Chinese names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from pydantic import WithJsonSchema

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


# A category a client names: documented as the platform's vocabulary; a deployment may add
# its own (TONGXIN_EXTRA_CATEGORIES), which the service checks (`known_categories`).
CategoryName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(CATEGORIES)})]


def known_categories(extra: list[str]) -> frozenset[str]:
    return frozenset(CATEGORIES) | frozenset(extra)


# --- the skills vocabulary ------------------------------------------------------------------
# Each skill: a stable slug, its Chinese label, the words people write for it (import sheets,
# forms) and the categories of needs it serves. Import and API store the slug; a word outside
# the vocabulary is kept as a free tag (matched only by a need asking for that very word).


@dataclass(frozen=True)
class Skill:
    slug: str
    label: str
    synonyms: tuple[str, ...]
    categories: tuple[str, ...]


# slug | label | synonyms (、) | categories (,)
_VOCABULARY = """
elder_companion | 助老 | 助老、为老服务、敬老、elderly care | elderly_care
caregiving | 陪护 | 陪护、护理、照护、陪诊、caregiving | elderly_care,medical
haircut | 理发 | 理发、剪发、美发、haircut | elderly_care,domestic_help
legal_advice | 法律咨询 | 法律咨询、法律援助、法律、律师、legal advice | legal_aid,dispute_mediation
medical_care | 医疗 | 医疗、义诊、医生、护士、急救、first aid | medical
tutoring | 辅导功课 | 辅导功课、课业辅导、家教、助学、tutoring | education_aid,childcare
childminding | 看护儿童 | 看护儿童、托育、带娃、childminding | childcare
housework | 家政 | 家政、保洁、打扫、做饭、housework | domestic_help
repairs | 维修 | 维修、水电维修、修理、电工、repairs | domestic_help,hardship_relief
mediation | 调解 | 调解、纠纷调解、矛盾调解、mediation | dispute_mediation
patrol | 巡逻 | 巡逻、巡防、治安巡逻、patrol | security_patrol
outreach | 政策宣传 | 政策宣传、宣讲、宣传、outreach | policy_outreach
errands | 代办 | 代办、跑腿、办事、errands | public_affairs,elderly_care
performance | 文艺 | 文艺、文艺演出、唱歌、跳舞、摄影、performance | culture_leisure
food_check | 食品安全 | 食品安全、食安、food safety | food_safety
driving | 驾驶 | 驾驶、开车、司机 | hardship_relief
"""


def _parse(table: str) -> tuple[Skill, ...]:
    out = []
    for line in table.strip().splitlines():
        slug, label, words, cats = (part.strip() for part in line.split("|"))
        out.append(Skill(slug, label, tuple(words.split("、")), tuple(cats.split(","))))
    return tuple(out)


SKILLS: tuple[Skill, ...] = _parse(_VOCABULARY)
_BY_WORD: dict[str, Skill] = {}
for _skill in SKILLS:
    for _word in (_skill.slug, _skill.label, *_skill.synonyms):
        _BY_WORD[_word.strip().lower()] = _skill


def skill_slug(word: str) -> str | None:
    """The vocabulary's slug for a word people write (label, synonym or slug), or None."""
    skill = _BY_WORD.get(word.strip().lower())
    return skill.slug if skill is not None else None


def skill_categories(skills: Iterable[str]) -> set[str]:
    """The categories these skills serve: through the vocabulary, and a skill that is itself a
    category's slug (as volunteers wrote before the vocabulary) serves that category."""
    out: set[str] = set()
    for word in skills:
        key = word.strip().lower()
        skill = _BY_WORD.get(key)
        if skill is not None:
            out.update(skill.categories)
        elif key in CATEGORIES:
            out.add(key)
    return out
