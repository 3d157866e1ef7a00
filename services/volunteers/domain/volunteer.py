"""The volunteer aggregate: reporting in, phones and skills, changes. No I/O.

Every rule takes the current state (None when the aggregate does not exist yet) and
returns the new state and the events to commit with it.
"""

from __future__ import annotations

import re
from datetime import datetime

from pydantic import BaseModel

from services.volunteers.domain.org_unit import OrgUnit, clean_text, derived_id, require_community
from shared.categories import skill_slug
from shared.errors import DomainError
from shared.events.needs import Location
from shared.events.volunteers import VolunteerRegistered, VolunteerUpdated
from shared.phones import normal_phone, phone_link
from shared.visibility import coarse_location, mask_name

# --- volunteers -----------------------------------------------------------------------

SKILL_SEPARATORS = re.compile(r"[、,，;；\s]+")


def normalize_phone(raw: str) -> str:
    """Digits only; a +86/0086 country prefix before a mobile number is dropped."""
    phone = normal_phone(raw)
    if phone is None:
        raise DomainError("invalid", f"手机号无效 / invalid phone number: {raw!r}", field="phone")
    return phone


def split_skills(text: str) -> list[str]:
    """Skills as people type them: separated by 、,，;； or spaces."""
    return [s for s in SKILL_SEPARATORS.split(text) if s]


def normalize_skills(skills: list[str]) -> list[str]:
    """Words of the skills vocabulary (Chinese labels, synonyms) become its slugs; any other
    word is kept as a free tag."""
    out: list[str] = []
    for skill in skills:
        s = clean_text(skill, "skills", "技能", 40, required=False)
        s = (skill_slug(s) or s) if s else s
        if s and s not in out:
            out.append(s)
    if len(out) > 30:
        raise DomainError("invalid", "技能最多 30 项 / at most 30 skills", field="skills")
    return out


def volunteer_id(community_id: str, phone: str) -> str:
    """One volunteer per phone per community: the id is derived from the pair."""
    return derived_id("volunteer", community_id, phone)


class Volunteer(BaseModel):
    id: str
    name: str
    phone: str
    home_community_id: str
    party_org: str | None = None
    skills: list[str] = []
    location: Location | None = None
    pledge_signed: bool
    active: bool = True
    # The keyed hash of the phone (shared.phones.phone_link) the identity service links by.
    phone_link: str | None = None
    registered_by: str
    created_at: datetime
    updated_at: datetime

    def registered_event(self) -> VolunteerRegistered:
        return VolunteerRegistered(**self._event_fields(), registered_at=self.created_at)

    def updated_event(self) -> VolunteerUpdated:
        return VolunteerUpdated(
            **self._event_fields(), registered_at=self.created_at, updated_at=self.updated_at
        )

    def _event_fields(self) -> dict[str, object]:
        # The public stream's view (shared.visibility): never the phone number or the party
        # organisation, the name masked, the home rounded to about 1 km.
        return {
            "volunteer_id": self.id,
            "name": mask_name(self.name),
            "home_community_id": self.home_community_id,
            "party_member": self.party_org is not None,
            "skills": self.skills,
            "location": coarse_location(self.location),
            "active": self.active,
            "identity_link": self.phone_link,
        }


def register_volunteer(
    *,
    name: str,
    phone: str,
    community: OrgUnit | None,
    community_id: str,
    party_org: str | None,
    skills: list[str],
    pledge_signed: bool,
    location: Location | None,
    actor: str,
    now: datetime,
    phone_link_key: str | None = None,
) -> tuple[Volunteer, list[VolunteerRegistered]]:
    """Reporting in (报到): a signed pledge, a community that exists, a valid phone."""
    if not pledge_signed:
        raise DomainError(
            "invalid",
            "须签署服务承诺书 / the service pledge must be signed (pledge_signed: true)",
            field="pledge_signed",
        )
    clean_name = clean_text(name, "name", "姓名", 60)
    clean_phone = normalize_phone(phone)
    require_community(community, community_id, "home_community_id")
    org = clean_text(party_org or "", "party_org", "党组织", 120, required=False) or None
    volunteer = Volunteer(
        id=volunteer_id(community_id, clean_phone),
        name=clean_name,
        phone=clean_phone,
        home_community_id=community_id,
        party_org=org,
        skills=normalize_skills(skills),
        location=location,
        pledge_signed=True,
        active=True,
        phone_link=phone_link(phone_link_key, clean_phone) if phone_link_key else None,
        registered_by=actor,
        created_at=now,
        updated_at=now,
    )
    return volunteer, [volunteer.registered_event()]


def update_volunteer(
    volunteer: Volunteer,
    now: datetime,
    *,
    name: str | None = None,
    party_org: str | None = None,
    skills: list[str] | None = None,
    location: Location | None = None,
    active: bool | None = None,
) -> tuple[Volunteer, list[VolunteerUpdated]]:
    """Profile changes and (de)activation. Phone and community identify the report-in."""
    changes: dict[str, object] = {}
    if name is not None:
        changes["name"] = clean_text(name, "name", "姓名", 60)
    if party_org is not None:
        changes["party_org"] = clean_text(party_org, "party_org", "党组织", 120, False) or None
    if skills is not None:
        changes["skills"] = normalize_skills(skills)
    if location is not None:
        changes["location"] = location
    if active is not None:
        changes["active"] = active
    changed = {k: v for k, v in changes.items() if getattr(volunteer, k) != v}
    if not changed:
        return volunteer, []
    updated = volunteer.model_copy(update={**changed, "updated_at": now})
    return updated, [updated.updated_event()]
