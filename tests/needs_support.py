"""What the needs service's tests share: the facts it learns from the volunteers stream,
and a running service that knows them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
from fastapi import FastAPI

from services.needs.app import create_app
from shared.clock import Clock
from shared.events.envelope import CloudEvent, EventPayload
from shared.events.volunteers import (
    DistrictRulesChanged,
    OrganizationRegistered,
    OrgUnitUpdated,
    TeamFormed,
    VolunteerRegistered,
)
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.rules import DEFAULT_RULES
from shared.settings import Settings
from tests.helpers import handled, running

DISTRICT = "zhongshan"
STREET = "zhongshan.hongyan"
COMMUNITY = "zhongshan.hongyan.dongfeng"
OTHER_COMMUNITY = "zhongshan.hongyan.xinhua"
OTHER_STREET_COMMUNITY = "zhongshan.shiqiao.nanhu"
OTHER_DISTRICT_COMMUNITY = "futian.lianhua.meilin"
COMMUNITIES = (COMMUNITY, OTHER_COMMUNITY, OTHER_STREET_COMMUNITY, OTHER_DISTRICT_COMMUNITY)
PHONE = "13812345678"


def now() -> datetime:
    return datetime.now(UTC)


def org_unit(path: str, level: str = "community") -> OrgUnitUpdated:
    return OrgUnitUpdated(
        path=path,
        name=path.rsplit(".", 1)[-1],
        level=level,  # type: ignore[arg-type]
        parent=path.rsplit(".", 1)[0] if "." in path else None,
        updated_by="admin",
        updated_at=now(),
    )


def volunteer(volunteer_id: str, community: str = COMMUNITY, **extra: Any) -> VolunteerRegistered:
    return VolunteerRegistered(
        volunteer_id=volunteer_id,
        name=f"志愿者{volunteer_id}",
        home_community_id=community,
        skills=["elderly_care"],
        registered_at=now(),
        **extra,
    )


def team(
    team_id: str, leader_id: str, member_ids: list[str], community: str = COMMUNITY
) -> TeamFormed:
    return TeamFormed(
        team_id=team_id,
        community_id=community,
        name=f"服务队{team_id}",
        service_type="elderly_care",
        leader_id=leader_id,
        member_ids=member_ids,
        formed_at=now(),
    )


def organization(organization_id: str, community: str = COMMUNITY) -> OrganizationRegistered:
    return OrganizationRegistered(
        organization_id=organization_id,
        name=f"企业{organization_id}",
        kind="enterprise",
        community_id=community,
        registered_at=now(),
    )


def rules(district: str = DISTRICT, **overrides: Any) -> DistrictRulesChanged:
    """A district's local rules as the volunteers service announces them."""
    fields: dict[str, Any] = {
        **DEFAULT_RULES.model_dump(),
        "changed_by": "district-admin",
        "changed_at": now(),
        **overrides,
    }
    return DistrictRulesChanged(district=district, **fields)


def need_body(community: str = COMMUNITY, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "community_id": community,
        "title": "给96岁老人买年货",
        "description": "春节前帮独居老人采购年货",
        "category": "elderly_care",
        "kind": "wish",
        "slots": 1,
        "requester": {"name": "王阿姨", "phone": PHONE},
        "beneficiaries": 1,
    }
    body.update(overrides)
    return body


async def publish(settings: Settings, *payloads: EventPayload) -> list[CloudEvent]:
    """Publishes volunteers-stream events as the volunteers service would."""
    await ensure_topics(settings)
    events = [CloudEvent.wrap(p) for p in payloads]
    producer = EventProducer(settings)
    await producer.start()
    try:
        await producer.publish(settings.topics.volunteers, events)
    finally:
        await producer.stop()
    return events


async def make_known(app: FastAPI, settings: Settings, *payloads: EventPayload) -> None:
    """Publishes the events and waits until the running needs service has handled them."""
    events = await publish(settings, *payloads)
    await handled(app, *events)


@asynccontextmanager
async def needs_service(
    settings: Settings, *known: EventPayload, clock: Clock | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The needs service running in-process, knowing the four communities and `known`."""
    app = create_app(settings, clock=clock)
    async with running(app) as client:
        await make_known(app, settings, *(org_unit(c) for c in COMMUNITIES), *known)
        yield app, client
