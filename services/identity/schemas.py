"""What clients of the identity service write and what they read back."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.inputs import Name, Phone
from shared.orgpath import SEGMENT, OrgPath

Text = Annotated[str, Field(min_length=1, max_length=200)]


# --- schemas ----------------------------------------------------------------------------


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    phone: Phone


class CodeSent(BaseModel):
    expires_in: int = Field(description="seconds the code is valid")
    resend_after: int = Field(description="seconds before another code may be requested")


_FALSY: dict[str, Any] = {"anyOf": [{"type": "null"}, {"const": ""}]}
_GIVEN: dict[str, Any] = {"type": "string", "minLength": 1}


def _grant_forms() -> dict[str, Any]:
    """The grants `token` tells apart, as JSON Schema: each named by `grant_type`, or without
    it by its fields (client_id wins over refresh_token, which wins over phone and code)."""
    unnamed = {"grant_type": {"type": "null"}}
    forms = {
        "sms_code": (
            {"phone": _GIVEN, "code": _GIVEN},
            {"client_id": _FALSY, "refresh_token": _FALSY},
        ),
        "refresh_token": ({"refresh_token": _GIVEN}, {"client_id": _FALSY}),
        "client_credentials": ({"client_id": _GIVEN, "client_secret": _GIVEN}, {}),
    }
    out = []
    for grant, (needed, unless) in forms.items():
        required = sorted(needed)
        out.append(
            {
                "title": grant,
                "required": ["grant_type", *required],
                "properties": {"grant_type": {"const": grant}, **needed},
            }
        )
        out.append(
            {
                "title": f"{grant} (grant_type left out)",
                "required": required,
                "properties": {**unnamed, **needed, **unless},
            }
        )
    return {"anyOf": out}


class TokenRequest(BaseModel):
    """One body for every grant (JSON or form-encoded). Without `grant_type`: `phone` +
    `code` is a sign-in, `refresh_token` a refresh or role switch, `client_id` +
    `client_secret` the client-credentials grant."""

    model_config = ConfigDict(extra="ignore", json_schema_extra=_grant_forms())

    grant_type: Literal["sms_code", "refresh_token", "client_credentials"] | None = None
    phone: Phone | None = None
    code: str | None = Field(default=None, max_length=10)
    refresh_token: str | None = Field(default=None, max_length=200)
    client_id: str | None = Field(default=None, max_length=100)
    client_secret: str | None = Field(default=None, max_length=200)
    role: str | None = Field(default=None, max_length=40)
    scope: str | None = Field(default=None, max_length=200)


class RefreshRequest(BaseModel):
    refresh_token: Text
    role: str | None = Field(default=None, max_length=40)
    scope: str | None = Field(default=None, max_length=200)


class LogoutRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str | None = Field(default=None, max_length=200)


class RoleGrant(BaseModel):
    role: str
    scope: str
    sub: str = Field(description="the token's sub in this role (the volunteer id for volunteer)")
    label: str = ""
    scope_name: str = Field(default="", examples=["和平社区"])


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"]
    expires_in: int
    refresh_token: str | None
    role: str
    scope: str
    sub: str
    roles: list[RoleGrant]


class PersonPublic(BaseModel):
    id: str
    phone: str = Field(description="masked")
    community_id: str | None


class Active(BaseModel):
    role: str
    scope: str
    sub: str


class Me(BaseModel):
    person: PersonPublic | None = Field(description="null for a token without a session")
    active: Active
    roles: list[RoleGrant]


class Community(BaseModel):
    path: str = Field(examples=["zhongshan.hongyan.heping"])
    name: str = Field(examples=["和平社区"])
    level: str
    parent: str | None
    street: str | None = Field(description="the street's name", examples=["红岩街道"])
    district: str | None = Field(description="the district's name", examples=["中山区"])
    full_name: str = Field(examples=["中山区 / 红岩街道 / 和平社区"])


class CommunityPage(BaseModel):
    items: list[Community]


def _depths(*depths: int) -> str:
    """The pattern of org paths of these depths (1 district, 2 street, 3 community, 4 grid)."""
    return "^(?:" + "|".join(rf"{SEGMENT}(?:\.{SEGMENT}){{{d - 1}}}" for d in depths) + ")$"


# The depth of the unit each office sits at (domain.OFFICE_LEVELS, by depth).
OFFICE_DEPTHS = {
    "grid_worker": (3, 4),
    "community_admin": (3,),
    "street_admin": (2,),
    "district_admin": (1,),
    "operator": (1, 2),
}


class AppointmentCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "oneOf": [
                {"properties": {"role": {"const": role}, "scope": {"pattern": _depths(*depths)}}}
                for role, depths in OFFICE_DEPTHS.items()
            ]
        },
    )
    phone: Phone
    name: Name = Field(max_length=60)
    role: Literal["grid_worker", "community_admin", "street_admin", "district_admin", "operator"]
    scope: OrgPath


class Appointment(BaseModel):
    id: str
    person_id: str
    phone: str
    name: str
    role: str
    scope: str
    active: bool
    appointed_by: str
    appointed_at: str
    ended_by: str | None
    ended_at: str | None


class AppointmentPage(BaseModel):
    items: list[Appointment]
