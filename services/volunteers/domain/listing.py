"""What the volunteers list index holds of each volunteer (`shared.listed_heads`).

In id order (the cursor is the last id). Buckets: each org unit the volunteer's home
community lies in (community, street, district), so that a scope is one bucket. A name search
(`q`) is a case-insensitive substring match over the names the bucket holds: a community's few
thousand names at most, in memory, instead of a regular expression over every stored
volunteer.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.list_index import Entry
from shared.mongo.client import Document
from shared.orgpath import OrgPath

PROJECTION = ("home_community_id", "name", "skills", "active")
VOLUNTEER_EVENTS = ("org.tongxin.volunteer.registered", "org.tongxin.volunteer.updated")


@dataclass(frozen=True)
class ListedVolunteer(Entry):
    home_community_id: str
    folded_name: str
    skills: frozenset[str]
    active: bool

    def matches(self, *, skill: str | None, q: str | None, include_inactive: bool) -> bool:
        return (
            (include_inactive or self.active)
            and (skill is None or skill in self.skills)
            and (q is None or fold(q) in self.folded_name)
        )


def fold(text: str) -> str:
    return text.casefold()


def within(scope: str) -> tuple[str, str]:
    return ("within", scope)


def listed_volunteer(head: Document) -> ListedVolunteer:
    volunteer_id = str(head["_id"])
    home = str(head["home_community_id"])
    return ListedVolunteer(
        id=volunteer_id,
        version=int(head["_version"]),
        key=(volunteer_id,),
        buckets=tuple(within(a) for a in OrgPath(home).ancestors()),
        home_community_id=home,
        folded_name=fold(str(head["name"])),
        skills=frozenset(head.get("skills") or ()),
        active=bool(head.get("active", True)),
    )
