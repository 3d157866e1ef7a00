"""Who may read figures: admins and operators inside their scope (and services)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query

from shared.auth import CurrentPrincipal
from shared.http import ApiError
from shared.orgpath import MAX_LENGTH, PATTERN


async def readable_scope(
    principal: CurrentPrincipal,
    scope: Annotated[
        str,
        Query(
            min_length=1,
            max_length=MAX_LENGTH,
            pattern=PATTERN,
            description="Org path, e.g. `zhongshan` or `zhongshan.hongyan.dongfeng`.",
        ),
    ],
) -> str:
    if not principal.covers(scope):
        raise ApiError(404, f"范围不存在 / scope {scope} not found", details={"scope": scope})
    if not principal.reads(scope):
        raise ApiError(
            403,
            "只有管理员和运营人员可查看统计 / only admins and operators may read figures",
            details={"role": principal.role},
        )
    return scope


ReadableScope = Annotated[str, Depends(readable_scope)]
