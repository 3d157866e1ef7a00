"""Local rules by district (地方规则): what each service applies, and the defaults.

A district's admin sets them with `PUT /v1/orgs/{district}/rules` (volunteers service); every
change is one `org.tongxin.district.rules_changed` event carrying the whole set, and each
service that applies a rule keeps the newest set it has heard. A district never set uses
the defaults, which are the platform's rules before local rules existed.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.events.volunteers import DistrictRulesChanged
from shared.inputs import JSON_INTEGER

# Cumulative service hours for ★ … ★★★★★ (the national volunteer-record standard).
DEFAULT_STAR_HOURS: tuple[int, ...] = (100, 300, 600, 1000, 1500)


class DistrictRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Five distinct thresholds, kept in rising order: ★ is the lowest, ★★★★★ the highest.
    star_hours: list[Annotated[int, Field(strict=True, ge=1, le=100_000), JSON_INTEGER]] = Field(
        default=list(DEFAULT_STAR_HOURS),
        min_length=5,
        max_length=5,
        json_schema_extra={"uniqueItems": True},
    )
    points_per_hour: Annotated[int, Field(strict=True, ge=0, le=1000), JSON_INTEGER] = 10
    auto_confirm_days: Annotated[int, Field(strict=True, ge=1, le=90), JSON_INTEGER] = 7
    volunteer_claim_cap: Annotated[int, Field(strict=True, ge=1, le=1000), JSON_INTEGER] = 5
    organization_claim_cap: Annotated[int, Field(strict=True, ge=1, le=10_000), JSON_INTEGER] = 20
    check_in_required: bool = Field(default=False, strict=True)

    @field_validator("star_hours")
    @classmethod
    def _rising(cls, hours: list[int]) -> list[int]:
        if len(set(hours)) != len(hours):
            raise ValueError("star_hours must differ: ★ < ★★ < … < ★★★★★ / 星级时长须各不相同")
        return sorted(hours)

    def stars_for(self, hours: float) -> int:
        return sum(1 for threshold in self.star_hours if hours >= threshold)

    @classmethod
    def of_event(cls, e: DistrictRulesChanged) -> DistrictRules:
        return cls(
            star_hours=e.star_hours,
            points_per_hour=e.points_per_hour,
            auto_confirm_days=e.auto_confirm_days,
            volunteer_claim_cap=e.volunteer_claim_cap,
            organization_claim_cap=e.organization_claim_cap,
            check_in_required=e.check_in_required,
        )


DEFAULT_RULES = DistrictRules()


def district_of(path: str) -> str:
    """The district an org path belongs to: its first segment."""
    return path.split(".", 1)[0]
