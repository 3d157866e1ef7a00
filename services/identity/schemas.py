"""What clients of the identity service write and what they read back."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

Text = Annotated[str, Field(min_length=1, max_length=200)]


# --- schemas ----------------------------------------------------------------------------


class CodeRequest(BaseModel):
    phone: str = Field(min_length=5, max_length=30, examples=["13800138000"])


class CodeSent(BaseModel):
    expires_in: int = Field(description="seconds the code is valid")
    resend_after: int = Field(description="seconds before another code may be requested")


class TokenRequest(BaseModel):
    """One body for every grant (JSON or form-encoded). Without `grant_type`: `phone` +
    `code` is a sign-in, `refresh_token` a refresh or role switch, `client_id` +
    `client_secret` the client-credentials grant."""

    model_config = ConfigDict(extra="ignore")

    grant_type: Literal["sms_code", "refresh_token", "client_credentials"] | None = None
    phone: str | None = Field(default=None, max_length=30)
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


class AppointmentCreate(BaseModel):
    phone: str = Field(min_length=5, max_length=30)
    name: Text
    role: Literal["grid_worker", "community_admin", "street_admin", "district_admin", "operator"]
    scope: Text


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
