"""Local rules by district (地方规则): what each service applies, and the defaults.

A district's admin sets them with `PUT /v1/orgs/{district}/rules` (volunteers service); every
change is one `org.tongxin.district.rules_changed` event carrying the whole set, and each
service that applies a rule keeps the newest set it has heard. A district never set uses
the defaults, which are the platform's rules before local rules existed.
"""

from __future__ import annotations

from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from shared.events.volunteers import DistrictRulesChanged

# Cumulative service hours for ★ … ★★★★★ (the national volunteer-record standard).
DEFAULT_STAR_HOURS: tuple[int, ...] = (100, 300, 600, 1000, 1500)


class DistrictRules(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    star_hours: list[Annotated[int, Field(strict=True, ge=1, le=100_000)]] = Field(
        default=list(DEFAULT_STAR_HOURS), min_length=5, max_length=5
    )
    points_per_hour: int = Field(default=10, strict=True, ge=0, le=1000)
    auto_confirm_days: int = Field(default=7, strict=True, ge=1, le=90)
    volunteer_claim_cap: int = Field(default=5, strict=True, ge=1, le=1000)
    organization_claim_cap: int = Field(default=20, strict=True, ge=1, le=10_000)
    check_in_required: bool = Field(default=False, strict=True)

    @model_validator(mode="after")
    def _ascending(self) -> Self:
        if any(b <= a for a, b in zip(self.star_hours, self.star_hours[1:], strict=False)):
            raise ValueError("star_hours must rise: ★ < ★★ < … < ★★★★★ / 星级时长须递增")
        return self

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
