"""What clients may ask of the needs service: one validated type per command.

Validation here is of shape (types, lengths, ranges); rules that need the state or the
read model (known community, category list, eligible claimants) live in the domain.
Numbers are strict: "3" or true is not a count.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from services.needs.domain import Requester, ms
from shared.events.needs import Kind, Openness
from shared.inputs import (
    JSON_INTEGER,
    Count,
    GeoPoint,
    Ident,
    Moment,
    Name,
    Text,
    WebUrl,
    one_form_of,
)
from shared.orgpath import OrgPath

Slots = Annotated[int, Field(strict=True, ge=1, le=500), JSON_INTEGER]
Cents = Annotated[int, Field(strict=True, ge=0, le=10**12), JSON_INTEGER]


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PostNeed(Command):
    community_id: OrgPath
    title: Annotated[Name, StringConstraints(max_length=120)]
    description: Annotated[Text, StringConstraints(max_length=4000)] = ""
    category: Annotated[Name, StringConstraints(max_length=60)]
    kind: Kind = "wish"
    slots: Slots = 1
    requester: Requester
    # An admin posting on a resident's behalf names the resident's user id.
    requester_id: Ident | None = None
    beneficiaries: Count = 0
    location: GeoPoint | None = None
    skills: list[Annotated[Name, StringConstraints(max_length=40)]] = Field(
        default=[], max_length=20
    )
    due_at: Moment | None = None
    # Who may claim: the need's community (default), or volunteers of its whole street or
    # district.
    openness: Openness = "community"

    @field_validator("due_at")
    @classmethod
    def _to_ms(cls, value: datetime | None) -> datetime | None:
        return None if value is None else ms(value)


class RejectNeed(Command):
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=500)]


class CancelNeed(Command):
    reason: Annotated[Text, StringConstraints(max_length=500)] | None = None


class ClaimNeed(Command):
    """One of three forms: a volunteer for themselves, a team leader for listed members,
    an admin for an organisation (which may take several slots)."""

    model_config = ConfigDict(
        json_schema_extra=one_form_of(
            {
                "volunteer": (["volunteer_id"], []),
                "team": (["team_id", "member_ids"], []),
                "organization": (["organization_id"], ["slots"]),
            }
        )
    )

    volunteer_id: Ident | None = None
    team_id: Ident | None = None
    member_ids: list[Ident] | None = Field(default=None, min_length=1, max_length=500)
    organization_id: Ident | None = None
    slots: Slots | None = None

    @model_validator(mode="after")
    def _one_form(self) -> Self:
        forms = [
            self.volunteer_id is not None,
            self.team_id is not None,
            self.organization_id is not None,
        ]
        if sum(forms) != 1:
            raise ValueError(
                "give exactly one of volunteer_id, team_id (with member_ids), organization_id"
            )
        if (self.team_id is None) != (self.member_ids is None):
            raise ValueError("a team claim lists its member_ids, and only a team claim does")
        if self.slots is not None and self.organization_id is None:
            raise ValueError("slots is given only for an organisation's claim")
        return self


class HoursEntry(Command):
    volunteer_id: Ident
    hours: float = Field(strict=True, gt=0, le=24, allow_inf_nan=False)


class CompleteNeed(Command):
    hours: list[HoursEntry] = Field(default=[], max_length=500)
    beneficiaries_served: Count = 0
    goods_count: Count = 0
    funds_cents: Cents = 0
    note: Annotated[Text, StringConstraints(max_length=2000)] | None = None
    evidence_urls: list[WebUrl] = Field(default=[], max_length=20)


class VerifyCompletion(Command):
    """An admin's or grid worker's verification; corrected figures (admin) need a reason."""

    hours: list[HoursEntry] | None = Field(default=None, min_length=1, max_length=500)
    beneficiaries_served: Count | None = None
    goods_count: Count | None = None
    funds_cents: Cents | None = None
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=500)] | None = None


class CheckIn(Command):
    """The 6-digit code the resident's or grid worker's phone shows."""

    code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
    volunteer_id: Ident | None = None  # defaults to the caller


class DisputeCompletion(Command):
    reason: Annotated[Text, StringConstraints(min_length=1, max_length=500)]


class ConfirmNeed(Command):
    rating: Annotated[int, Field(strict=True, ge=1, le=5), JSON_INTEGER]
    comment: Annotated[Text, StringConstraints(max_length=1000)] | None = None
