"""The org tree (区/街道/社区): org units and their district rules. No I/O."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel
from pydantic_core import PydanticCustomError

from shared import inputs
from shared.errors import DomainError
from shared.events.volunteers import DistrictRulesChanged, OrgLevel, OrgUnitUpdated
from shared.messages import SIMPLE
from shared.orgpath import OrgPath
from shared.rules import DistrictRules

# Ids derived from natural keys make the version-1 commit insert the duplicate arbiter.
ID_NAMESPACE = uuid.UUID("5f1c1a3e-2b57-4c1e-9d0a-7a6f2c3b9e10")


def derived_id(*parts: str) -> str:
    return str(uuid.uuid5(ID_NAMESPACE, "|".join(parts)))


def clean_text(value: str, field: str, label: str, max_len: int, required: bool = True) -> str:
    """Spaces collapsed; control, bidi and invisible characters refused (as at the API)."""
    try:
        text = " ".join(inputs.clean_text(value).split())
    except PydanticCustomError as exc:
        problem = SIMPLE[exc.type].format(label=label)
        raise DomainError("invalid", f"{problem} / {field}: {exc.message()}", field=field) from None
    if required and not text:
        raise DomainError("invalid", f"{label}不能为空 / {field} is required", field=field)
    if len(text) > max_len:
        raise DomainError(
            "invalid", f"{label}过长 / {field} is longer than {max_len} characters", field=field
        )
    return text


# --- org tree -------------------------------------------------------------------------


class OrgUnit(BaseModel):
    path: str
    name: str
    level: OrgLevel
    parent: str | None
    created_at: datetime
    updated_at: datetime
    updated_by: str


def put_org_unit(
    existing: OrgUnit | None,
    path: str,
    name: str,
    parent: OrgUnit | None,
    actor: str,
    now: datetime,
) -> tuple[OrgUnit, list[OrgUnitUpdated]]:
    """Creates the unit or renames it; a unit below a district needs its parent first."""
    org = OrgPath.parse(path)
    name = clean_text(name, "name", "名称", 60)
    parent_path = org.parent
    if parent_path is not None and parent is None:
        raise DomainError(
            "invalid",
            f"上级单位 {parent_path} 不存在，请先创建 / parent org unit {parent_path} "
            "does not exist; create it first",
            parent=parent_path,
        )
    if existing is not None and existing.name == name:
        return existing, []
    unit = OrgUnit(
        path=path,
        name=name,
        level=org.level,
        parent=parent_path,
        created_at=existing.created_at if existing else now,
        updated_at=now,
        updated_by=actor,
    )
    event = OrgUnitUpdated(
        path=path, name=name, level=org.level, parent=parent_path, updated_by=actor, updated_at=now
    )
    return unit, [event]


def require_community(unit: OrgUnit | None, path: str, field: str) -> OrgUnit:
    """Volunteers, organisations and teams belong to a community that exists."""
    if unit is None:
        raise DomainError(
            "invalid", f"社区 {path} 不存在 / community {path} does not exist", field=field
        )
    if unit.level != "community":
        raise DomainError(
            "invalid",
            f"{path} 是{unit.level}级单位，不是社区 / {path} is a {unit.level}, not a community",
            field=field,
        )
    return unit


def rules_changed(
    district: str, rules: DistrictRules, actor: str, now: datetime
) -> DistrictRulesChanged:
    return DistrictRulesChanged(
        district=district, **rules.model_dump(), changed_by=actor, changed_at=now
    )
