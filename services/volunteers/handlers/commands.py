"""Commands of the volunteers service → policy → domain rules → repository.

Every change is decided on freshly loaded state and committed as the next version; when
another writer took that version first, the command is decided again (bounded, jittered).

Long because it holds the commands of four aggregates, the bulk import, the passbook and the
supermarket (reads: queries.py; events: events.py).
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from services.volunteers.adapters.importing import SheetRow
from services.volunteers.adapters.repository import VolunteersRepository
from services.volunteers.domain import (
    certificates,
    org_unit,
    organization,
    passbook,
    policy,
    supermarket,
)
from services.volunteers.domain import team as team_domain
from services.volunteers.domain import volunteer as volunteer_domain
from services.volunteers.domain.certificates import Certificate
from services.volunteers.domain.org_unit import OrgUnit
from services.volunteers.domain.organization import Organization, OrganizationKind
from services.volunteers.domain.passbook import LedgerEntry, Passbook
from services.volunteers.domain.supermarket import Item, Reservation, Unit
from services.volunteers.domain.team import Team, TeamServiceType
from services.volunteers.domain.volunteer import Volunteer
from services.volunteers.metrics import (
    COMMIT_CONFLICTS,
    IMPORT_DURATION,
    IMPORT_ROWS,
    POINTS_REDEEMED,
    VOLUNTEERS_REGISTERED,
)
from services.volunteers.schemas import ImportReport, NewVolunteer, RowResult, VolunteerChanges
from shared.auth import Principal
from shared.clock import Clock, SystemClock
from shared.errors import DomainError, not_found
from shared.events.volunteers import VolunteerRegistered
from shared.logging import get_logger
from shared.mongo.store import ConcurrencyConflict
from shared.mongo.unit_of_work import Backoff, Duplicate, GaveUp, until_committed
from shared.orgpath import OrgPath
from shared.rules import DistrictRules, district_of

log = get_logger(__name__)
T = TypeVar("T")

BACKOFF = Backoff(base_s=0.004, cap_s=0.2, max_attempts=50)
IMPORT_BATCH = 1000


@dataclass
class VolunteersDeps:
    repo: VolunteersRepository
    import_max_rows: int = 20_000
    phone_link_key: str | None = None  # the volunteer events' phone link (#14)
    clock: Clock = field(default_factory=SystemClock)


async def decided_again(aggregate: str, attempt: Callable[[], Awaitable[T]]) -> T:
    """Runs `attempt` (load, decide, commit) until its commit is not beaten by another."""
    try:
        done, _ = await until_committed(
            attempt, BACKOFF, on_conflict=COMMIT_CONFLICTS.labels(aggregate).inc
        )
    except GaveUp:
        raise DomainError(
            "conflict", "并发修改过多，请重试 / too many concurrent changes; try again"
        ) from None
    return done


# --- org tree -------------------------------------------------------------------------


async def put_org_unit(
    deps: VolunteersDeps, actor: Principal, path: str, name: str, cid: str | None
) -> tuple[OrgUnit, bool]:
    """Creates or renames a unit; True when it was created."""
    parent_path = OrgPath.parse(path).parent
    policy.require_org_writer(actor, path)
    parent = (await deps.repo.get_org(parent_path))[0] if parent_path else None

    async def attempt() -> tuple[OrgUnit, bool]:
        existing, version = await deps.repo.get_org(path)
        unit, events = org_unit.put_org_unit(
            existing, path, name, parent, actor.sub, deps.clock.now()
        )
        if events:
            await deps.repo.save_org(unit, version, events, cid)
        return unit, existing is None

    return await decided_again("org_units", attempt)


async def put_district_rules(
    deps: VolunteersDeps, actor: Principal, district: str, rules: DistrictRules, cid: str | None
) -> DistrictRules:
    """Sets a district's local rules (its own district admin, or a service token); one
    `district.rules_changed` event per change."""
    OrgPath.parse(district)
    policy.require_rules_writer(actor, district)
    unit, _ = await deps.repo.get_org(district)
    if unit is None or unit.level != "district":
        raise DomainError(
            "invalid",
            f"{district} 不是已登记的区 / {district} is not a known district",
            field="district",
        )

    async def attempt() -> DistrictRules:
        current, version = await deps.repo.get_rules_version(district)
        if version and current == rules:
            return current
        event = org_unit.rules_changed(district, rules, actor.sub, deps.clock.now())
        await deps.repo.save_rules(district, rules, version, [event], cid)
        return rules

    return await decided_again("district_rules", attempt)


async def register_volunteer(
    deps: VolunteersDeps, actor: Principal, cmd: NewVolunteer, cid: str | None
) -> Volunteer:
    policy.require_community_admin(actor, cmd.home_community_id)
    community, _ = await deps.repo.get_org(cmd.home_community_id)
    volunteer, events = volunteer_domain.register_volunteer(
        name=cmd.name,
        phone=cmd.phone,
        community=community,
        community_id=cmd.home_community_id,
        party_org=cmd.party_org,
        skills=cmd.skills,
        pledge_signed=cmd.pledge_signed,
        location=cmd.location,
        actor=actor.sub,
        now=deps.clock.now(),
        phone_link_key=deps.phone_link_key,
    )
    await _create_new(
        deps.repo.volunteers.create(volunteer.id, volunteer, events, cid),
        f"该手机号已在 {cmd.home_community_id} 报到，志愿者 {volunteer.id} / this phone "
        f"number already reported in to this community as volunteer {volunteer.id}",
        volunteer_id=volunteer.id,
    )
    VOLUNTEERS_REGISTERED.labels("api").inc()
    return volunteer


async def update_volunteer(
    deps: VolunteersDeps,
    actor: Principal,
    volunteer_id: str,
    changes: VolunteerChanges | None = None,
    active: bool | None = None,
    cid: str | None = None,
) -> Volunteer:
    """Profile changes by the volunteer or an admin; deactivation likewise; reactivation by
    an admin only."""

    async def attempt() -> Volunteer:
        volunteer, version = await deps.repo.get_volunteer(volunteer_id)
        if volunteer is None:
            raise not_found("volunteer", volunteer_id)
        if active:
            policy.require_admin(actor, volunteer.home_community_id, "volunteer", volunteer_id)
        else:
            policy.require_volunteer_editor(actor, volunteer)
        fields = changes.model_dump(exclude_none=True) if changes else {}
        updated, events = volunteer_domain.update_volunteer(
            volunteer, deps.clock.now(), **fields, active=active
        )
        if events:
            await deps.repo.save_volunteer(updated, version, events, cid)
        return updated

    return await decided_again("volunteers", attempt)


PLEDGE_NO = frozenset({"", "否", "未签", "无", "no", "n", "false", "0", "x", "×"})


async def import_volunteers(
    deps: VolunteersDeps, actor: Principal, rows: list[SheetRow], cid: str | None
) -> ImportReport:
    """Every row gets a result; the valid ones are committed in bulk, where the unique
    version-1 commit of each derived id tells a new volunteer from a duplicate."""
    started = time.perf_counter()
    policy.require_importer(actor)
    now = deps.clock.now()
    communities: dict[str, OrgUnit | None] = {}
    named: dict[str, str | DomainError] = {}  # 所在社区 as written → its path, or why not
    results: list[RowResult] = []
    first_row_of: dict[str, int] = {}
    pending: list[tuple[RowResult, Volunteer, list[VolunteerRegistered]]] = []
    for row in rows:
        result = RowResult(row=row.row, status="error")
        results.append(result)
        try:
            volunteer, events = await _volunteer_of_row(deps, actor, row, communities, named, now)
        except DomainError as exc:
            result.field = _str(exc.details.get("field"))
            result.reason = exc.message
            continue
        result.volunteer_id = volunteer.id
        if volunteer.id in first_row_of:
            result.status = "duplicate"
            result.reason = (
                f"与第 {first_row_of[volunteer.id]} 行重复 / same phone and community as "
                f"row {first_row_of[volunteer.id]}"
            )
            continue
        first_row_of[volunteer.id] = row.row
        pending.append((result, volunteer, events))
    for start in range(0, len(pending), IMPORT_BATCH):
        batch = pending[start : start + IMPORT_BATCH]
        stored = await deps.repo.register_many([(v, e) for _, v, e in batch], cid)
        for (result, _, _), ok in zip(batch, stored, strict=True):
            result.status = "created" if ok else "duplicate"
            if not ok:
                result.reason = "已报到 / already reported in"
    report = ImportReport(
        total=len(results),
        created=sum(r.status == "created" for r in results),
        duplicates=sum(r.status == "duplicate" for r in results),
        errors=sum(r.status == "error" for r in results),
        rows=results,
    )
    for outcome, count in (
        ("created", report.created),
        ("duplicate", report.duplicates),
        ("error", report.errors),
    ):
        IMPORT_ROWS.labels(outcome).inc(count)
    VOLUNTEERS_REGISTERED.labels("import").inc(report.created)
    IMPORT_DURATION.observe(time.perf_counter() - started)
    log.info("volunteers_imported", **report.model_dump(exclude={"rows"}))
    return report


async def _volunteer_of_row(
    deps: VolunteersDeps,
    actor: Principal,
    row: SheetRow,
    communities: dict[str, OrgUnit | None],
    named: dict[str, str | DomainError],
    now: datetime,
) -> tuple[Volunteer, list[VolunteerRegistered]]:
    f = row.fields
    given = f.get("home_community_id", "").strip()
    if given not in named:
        try:
            named[given] = await _community_of_row(deps, actor, given)
        except DomainError as exc:
            named[given] = exc
    resolved = named[given]
    if isinstance(resolved, DomainError):
        raise resolved
    community_id = resolved
    if not actor.administers(community_id):
        raise DomainError(
            "forbidden",
            f"{community_id} 不在您的管理范围 / {community_id} is outside your scope",
            field="home_community_id",
        )
    if community_id not in communities:
        communities[community_id] = (await deps.repo.get_org(community_id))[0]
    pledge = f.get("pledge_signed", "").strip().lower()
    return volunteer_domain.register_volunteer(
        name=f.get("name", ""),
        phone=f.get("phone", ""),
        community=communities[community_id],
        community_id=community_id,
        party_org=f.get("party_org") or None,
        skills=volunteer_domain.split_skills(f.get("skills", "")),
        # Without a pledge column the committee vouches for the signed paper pledges.
        pledge_signed=pledge not in PLEDGE_NO if "pledge_signed" in f else True,
        location=None,
        actor=actor.sub,
        now=now,
        phone_link_key=deps.phone_link_key,
    )


async def _community_of_row(deps: VolunteersDeps, actor: Principal, given: str) -> str:
    """所在社区 as people write it: the community's name, unique inside the importer's scope
    (an ambiguous one is refused naming the candidates), or its path."""
    if not given:
        raise DomainError(
            "invalid", "所在社区不能为空 / community is required", field="home_community_id"
        )
    units = await deps.repo.communities_named(given, actor.scope)
    if len(units) == 1:
        return units[0].path
    if len(units) > 1:
        parents = await asyncio.gather(*(deps.repo.get_org(u.parent or "") for u in units))
        where = "、".join(
            f"{(p[0].name if p[0] else u.parent)}{u.name}（{u.path}）"
            for u, p in zip(units, parents, strict=True)
        )
        raise DomainError(
            "invalid",
            f"社区名称“{given}”不唯一：{where}，请填写其完整编码 / "
            f"community name {given!r} is ambiguous: {', '.join(u.path for u in units)}",
            field="home_community_id",
            candidates=[u.path for u in units],
        )
    try:
        OrgPath.parse(given, field="home_community_id")
    except DomainError:
        raise DomainError(
            "invalid",
            f"未找到名为“{given}”的社区 / no community named {given!r} in your scope",
            field="home_community_id",
        ) from None
    return given


async def _create_new(create: Awaitable[int], taken: str, **details: str) -> None:
    """Awaits the creation of a new aggregate; its id taken is a conflict saying `taken`."""
    try:
        await create
    except Duplicate:
        raise DomainError("conflict", taken, names_field=False, **details) from None


def _str(value: object) -> str | None:
    return None if value is None else str(value)


# --- organisations and teams ----------------------------------------------------------


async def register_organization(
    deps: VolunteersDeps,
    actor: Principal,
    *,
    name: str,
    kind: OrganizationKind,
    community_id: str,
    cid: str | None,
) -> Organization:
    policy.require_community_admin(actor, community_id)
    community, _ = await deps.repo.get_org(community_id)
    org, events = organization.register_organization(
        name=name,
        kind=kind,
        community=community,
        community_id=community_id,
        actor=actor.sub,
        now=deps.clock.now(),
    )
    await _create_new(
        deps.repo.organizations.create(org.id, org, events, cid),
        f"本社区已登记同名组织 {org.id} / an organisation of this name is already "
        f"registered in this community: {org.id}",
        organization_id=org.id,
    )
    return org


async def form_team(
    deps: VolunteersDeps,
    actor: Principal,
    *,
    community_id: str,
    name: str,
    service_type: TeamServiceType,
    leader_id: str,
    cid: str | None,
) -> Team:
    policy.require_community_admin(actor, community_id)
    community, _ = await deps.repo.get_org(community_id)
    leader, _ = await deps.repo.get_volunteer(leader_id)
    team, events = team_domain.form_team(
        name=name,
        service_type=service_type,
        community=community,
        community_id=community_id,
        leader=leader,
        leader_id=leader_id,
        actor=actor.sub,
        now=deps.clock.now(),
    )
    await _create_new(
        deps.repo.teams.create(team.id, team, events, cid),
        f"本社区已有同名服务队 {team.id} / a team of this name already exists in this "
        f"community: {team.id}",
        team_id=team.id,
    )
    return team


async def _load_team(deps: VolunteersDeps, actor: Principal, team_id: str) -> tuple[Team, int]:
    team, version = await deps.repo.get_team(team_id)
    if team is None:
        raise not_found("team", team_id)
    policy.require_visible(actor, team.community_id, "team", team_id)
    return team, version


async def add_team_member(
    deps: VolunteersDeps, actor: Principal, team_id: str, volunteer_id: str, cid: str | None
) -> tuple[Team, bool]:
    """True when the volunteer joined now (False: they already were a member)."""

    async def attempt() -> tuple[Team, bool]:
        team, version = await _load_team(deps, actor, team_id)
        policy.require_team_manager(actor, team)
        volunteer, _ = await deps.repo.get_volunteer(volunteer_id)
        joined, events = team_domain.join_team(team, volunteer, volunteer_id, deps.clock.now())
        if events:
            await deps.repo.save_team(joined, version, events, cid)
        return joined, bool(events)

    return await decided_again("teams", attempt)


async def change_team_leader(
    deps: VolunteersDeps, actor: Principal, team_id: str, volunteer_id: str, cid: str | None
) -> Team:
    async def attempt() -> Team:
        team, version = await _load_team(deps, actor, team_id)
        policy.require_team_manager(actor, team)
        changed, events = team_domain.change_leader(team, volunteer_id, deps.clock.now())
        if events:
            await deps.repo.save_team(changed, version, events, cid)
        return changed

    return await decided_again("teams", attempt)


# --- love passbook --------------------------------------------------------------------


async def _passbook_or_empty(deps: VolunteersDeps, volunteer_id: str) -> tuple[Passbook, int]:
    """A volunteer who has earned nothing yet has an empty passbook; 404 for neither."""
    book, version = await deps.repo.get_passbook(volunteer_id)
    if book is not None:
        return book, version
    volunteer, _ = await deps.repo.get_volunteer(volunteer_id)
    if volunteer is None:
        raise not_found("passbook", volunteer_id)
    return passbook.empty(volunteer_id, volunteer.home_community_id, deps.clock.now()), 0


async def redeem_points(
    deps: VolunteersDeps,
    actor: Principal,
    volunteer_id: str,
    *,
    item: str,
    points: int,
    cid: str | None,
) -> tuple[Passbook, LedgerEntry]:
    redemption_id = str(uuid.uuid4())
    item = org_unit.clean_text(item, "item", "兑换物品", 120)

    async def attempt() -> tuple[Passbook, LedgerEntry]:
        book, version = await _passbook_or_empty(deps, volunteer_id)
        policy.require_redeemer(actor, volunteer_id, book.community_id)
        spent, entry, event = passbook.redeem(
            book, redemption_id=redemption_id, item=item, points=points, now=deps.clock.now()
        )
        await deps.repo.save_passbook(spent, version, entry, [event], cid)
        return spent, entry

    spent, entry = await decided_again("passbooks", attempt)
    POINTS_REDEEMED.inc(points)
    return spent, entry


# --- certificates (志愿服务记录证明) ------------------------------------------------------

MAX_SERIAL_ATTEMPTS = 200


async def request_certificate(
    deps: VolunteersDeps,
    actor: Principal,
    volunteer_id: str,
    start: date,
    end: date,
    issuer_id: str | None,
    cid: str | None,
) -> Certificate:
    """Issues a certificate of the verified services the issuing community recorded in the
    period. The serial is the next free `TX-<district>-<year>-<seq>`: each number is tried
    as a version-1 commit, and the unique insert gives it to exactly one request."""
    volunteer, _ = await deps.repo.get_volunteer(volunteer_id)
    if volunteer is None:
        raise not_found("volunteer", volunteer_id)
    issuer_id = issuer_id or volunteer.home_community_id
    OrgPath.parse(issuer_id)
    policy.require_certificate_requester(actor, volunteer_id, issuer_id)
    book, _ = await _passbook_or_empty(deps, volunteer_id)
    issuer, _ = await deps.repo.get_org(issuer_id)
    now = deps.clock.now()
    district = district_of(issuer_id)
    prefix = certificates.serial_for(district, now.year, 0)[:-6]
    seq = await deps.repo.count_certificates(prefix)
    for _ in range(MAX_SERIAL_ATTEMPTS):
        seq += 1
        serial = certificates.serial_for(district, now.year, seq)
        cert, event = certificates.issue(
            serial=serial,
            volunteer=volunteer,
            book=book,
            issuer=issuer,
            issuer_id=issuer_id,
            start=start,
            end=end,
            by=actor.sub,
            now=now,
        )
        try:
            await deps.repo.save_certificate(cert, 0, [event], cid)
        except ConcurrencyConflict:
            continue  # another request took this number: the next one
        log.info("certificate_issued", serial=serial, services=len(cert.services))
        return cert
    raise DomainError("busy", "证明编号繁忙，请重试 / certificate numbers are busy; try again")


async def _certificate(deps: VolunteersDeps, serial: str) -> tuple[Certificate, int]:
    if not certificates.valid_serial(serial):
        raise not_found("certificate", serial)
    cert, version = await deps.repo.get_certificate(serial)
    if cert is None:
        raise not_found("certificate", serial)
    return cert, version


async def revoke_certificate(
    deps: VolunteersDeps, actor: Principal, serial: str, reason: str, cid: str | None
) -> Certificate:
    reason = org_unit.clean_text(reason, "reason", "撤销理由", 500)

    async def attempt() -> Certificate:
        cert, version = await _certificate(deps, serial)
        policy.require_certificate_reader(actor, cert.volunteer_id, cert.issuer_id)
        policy.require_community_admin(actor, cert.issuer_id)
        revoked, event = certificates.revoke(cert, reason, actor.sub, deps.clock.now())
        await deps.repo.save_certificate(revoked, version, [event], cid)
        return revoked

    return await decided_again("certificates", attempt)


# --- love supermarket (爱心超市) ----------------------------------------------------------


async def create_item(
    deps: VolunteersDeps,
    actor: Principal,
    *,
    community_id: str,
    name: str,
    points: int,
    stock: int,
    cid: str | None,
) -> Item:
    """An item of the community's catalogue, by its admins (the shopkeepers)."""
    policy.require_community_admin(actor, community_id)
    community, _ = await deps.repo.get_org(community_id)
    if community is None or community.level != "community":
        raise DomainError(
            "invalid", f"社区 {community_id} 不存在 / no such community", field="community_id"
        )
    now = deps.clock.now()
    item = Item(
        id=str(uuid.uuid4()),
        community_id=community_id,
        name=org_unit.clean_text(name, "name", "商品名称", 60),
        points=points,
        units=stock,
        created_at=now,
        updated_at=now,
    )
    # units first: an item never names stock that is not there
    await deps.repo.add_units(_units(item.id, 0, stock))
    await deps.repo.save_item(item, 0, [supermarket.item_changed(item, actor.sub, now)], cid)
    return item


def _units(item_id: str, start: int, end: int) -> list[Unit]:
    return [
        Unit(id=supermarket.unit_id(item_id, n), item_id=item_id) for n in range(start + 1, end + 1)
    ]


async def change_item(
    deps: VolunteersDeps,
    actor: Principal,
    item_id: str,
    *,
    points: int | None,
    add_stock: int,
    active: bool | None,
    cid: str | None,
) -> Item:
    async def attempt() -> Item:
        item, version = await _item(deps, actor, item_id)
        policy.require_community_admin(actor, item.community_id)
        now = deps.clock.now()
        changed = supermarket.change_item(
            item, points=points, add_stock=add_stock, active=active, now=now
        )
        await deps.repo.add_units(_units(item.id, item.units, changed.units))
        await deps.repo.save_item(
            changed, version, [supermarket.item_changed(changed, actor.sub, now)], cid
        )
        return changed

    return await decided_again("shop_items", attempt)


async def _item(deps: VolunteersDeps, actor: Principal, item_id: str) -> tuple[Item, int]:
    item, version = await deps.repo.get_item(item_id)
    if item is None:
        raise not_found("item", item_id)
    policy.require_visible(actor, item.community_id, "item", item_id)
    return item, version


async def reserve_item(
    deps: VolunteersDeps, actor: Principal, item_id: str, volunteer_id: str, cid: str | None
) -> Reservation:
    """Points held, then a free unit taken by its next commit: exactly as many reservations
    succeed as there are units, however many race; a reservation left without a unit gives
    its points back."""
    item, _ = await _item(deps, actor, item_id)
    book, _ = await _passbook_or_empty(deps, volunteer_id)
    policy.require_reserver(actor, volunteer_id, item.community_id, book.community_id)
    free = await deps.repo.free_units(item_id)
    if not free:
        raise _sold_out(item)
    reservation = supermarket.pending(str(uuid.uuid4()), item, volunteer_id, deps.clock.now())
    await deps.repo.save_reservation(reservation, 0, [], cid)
    try:
        await _hold_points(deps, reservation, cid)
    except DomainError:
        await deps.repo.save_reservation(
            supermarket.failed(reservation).model_copy(update={"settled": True}), 1, [], cid
        )
        raise
    unit = await _take_unit(deps, reservation.id, free) or await _take_unit(
        deps, reservation.id, await deps.repo.free_units(item_id)
    )
    if unit is None:
        await _settle(deps, supermarket.failed(reservation), 1, cid)
        raise _sold_out(item)
    done, event = supermarket.held(reservation, unit, deps.clock.now())
    await deps.repo.save_reservation(done, 1, [event], cid)
    return done


def _sold_out(item: Item) -> DomainError:
    return DomainError("conflict", f"“{item.name}”已无库存 / {item.name} is out of stock", stock=0)


async def _take_unit(
    deps: VolunteersDeps, reservation_id: str, candidates: list[str]
) -> Unit | None:
    """The first candidate unit this reservation's commit takes; None when all are taken.
    A lost race on a unit is looked at again: it may have been taken, or freed."""
    random.shuffle(candidates)  # racers spread over the units instead of queueing on one
    for candidate in candidates:
        while True:
            unit, version = await deps.repo.get_unit(candidate)
            taken = supermarket.take(unit, reservation_id) if unit else None
            if taken is None:
                break
            try:
                await deps.repo.save_unit(taken, version)
            except ConcurrencyConflict:
                COMMIT_CONFLICTS.labels("shop_units").inc()
                continue
            return taken
    return None


async def _hold_points(deps: VolunteersDeps, r: Reservation, cid: str | None) -> None:
    async def attempt() -> None:
        book, version = await _passbook_or_empty(deps, r.volunteer_id)
        held = passbook.hold(
            book, reservation_id=r.id, item=r.item_name, points=r.points, now=deps.clock.now()
        )
        if held is not None:
            updated, entry, event = held
            await deps.repo.save_passbook(updated, version, entry, [event], cid)

    await decided_again("passbooks", attempt)


async def _settle(deps: VolunteersDeps, r: Reservation, version: int, cid: str | None) -> None:
    """A lapsed or failed reservation: its unit freed, its points back, then marked settled;
    each step is idempotent, so a pass after a crash finishes the job."""
    if r.unit_id is not None:

        async def free_unit() -> None:
            unit, unit_version = await deps.repo.get_unit(str(r.unit_id))
            if unit is not None and unit.holder == r.id and not unit.handed_over:
                await deps.repo.save_unit(unit.model_copy(update={"holder": None}), unit_version)

        await decided_again("shop_units", free_unit)

    async def points_back() -> None:
        book, book_version = await _passbook_or_empty(deps, r.volunteer_id)
        back = passbook.give_back(book, reservation_id=r.id, item=r.item_name, now=deps.clock.now())
        if back is not None:
            updated, entry, event = back
            await deps.repo.save_passbook(updated, book_version, entry, [event], cid)

    await decided_again("passbooks", points_back)
    await deps.repo.save_reservation(r.model_copy(update={"settled": True}), version, [], cid)


async def hand_over(
    deps: VolunteersDeps, actor: Principal, reservation_id: str, code: str, cid: str | None
) -> Reservation:
    """The shopkeeper (an admin of the community) hands the item over against its code."""

    async def attempt() -> Reservation:
        r, version = await deps.repo.get_reservation(reservation_id)
        if r is None:
            raise not_found("reservation", reservation_id)
        policy.require_visible(actor, r.community_id, "reservation", reservation_id)
        policy.require_community_admin(actor, r.community_id)
        done, event = supermarket.hand_over(r, code, actor.sub, deps.clock.now())
        await deps.repo.save_reservation(done, version, [event], cid)
        return done

    done = await decided_again("reservations", attempt)
    assert done.unit_id is not None

    async def unit_gone() -> None:
        unit, version = await deps.repo.get_unit(str(done.unit_id))
        if unit is not None and not unit.handed_over:
            await deps.repo.save_unit(unit.model_copy(update={"handed_over": True}), version)

    await decided_again("shop_units", unit_gone)
    return _shown_to(actor, done)


def _shown_to(actor: Principal, r: Reservation) -> Reservation:
    """The pick-up code is the volunteer's: the shopkeeper must be told it."""
    return r if policy.is_self(actor, r.volunteer_id) else r.model_copy(update={"code": None})


async def lapse_reservations(deps: VolunteersDeps) -> int:
    """Reservations not picked up in time lapse: unit and points return. Returns how many
    were settled."""
    settled = 0
    for reservation_id in await deps.repo.reservations_to_settle(deps.clock.now()):
        r, version = await deps.repo.get_reservation(reservation_id)
        if r is None:
            continue
        try:
            lapsed = supermarket.lapse(r, deps.clock.now())
            if lapsed is not None:
                r, event = lapsed
                await deps.repo.save_reservation(r, version, [event], None)
                version += 1
            if r.status in ("lapsed", "failed") and not r.settled:
                await _settle(deps, r, version, None)
                settled += 1
        except ConcurrencyConflict:  # handed over or settled meanwhile: the next pass sees
            continue
    return settled


LAPSE_CHECK_S = 60.0


async def run_reservation_lapses(deps: VolunteersDeps) -> None:
    """The background loop: settles lapsed reservations every `LAPSE_CHECK_S`."""
    while True:
        try:
            await lapse_reservations(deps)
        except Exception as exc:  # the next pass tries again
            log.warning("reservation_lapse_failed", error=repr(exc))
        await asyncio.sleep(LAPSE_CHECK_S)
