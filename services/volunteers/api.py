"""HTTP → commands for the volunteers service; nothing else.

Long because it holds the routes of four resources (org tree, volunteers, organisations,
teams) with their OpenAPI descriptions; it splits by resource with the planned re-layout.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Body, Depends, File, Query, Request, Response, UploadFile

from services.volunteers import schemas
from services.volunteers.adapters import certificate_pdf
from services.volunteers.adapters.importing import ImportFileError, read_rows
from services.volunteers.domain import policy
from services.volunteers.domain.certificates import Certificate
from services.volunteers.domain.supermarket import Reservation
from services.volunteers.domain.volunteer import Volunteer
from services.volunteers.handlers import commands, queries
from services.volunteers.handlers.commands import VolunteersDeps
from services.volunteers.schemas import (
    CertificateCheck,
    CertificateRequest,
    CertificateRevoke,
    HandOver,
    ImportReport,
    ItemChange,
    ItemCreate,
    ItemPublic,
    NewVolunteer,
    OrganizationCreate,
    OrganizationPage,
    OrganizationPublic,
    OrgUnitPublic,
    OrgUnitPut,
    PassbookPublic,
    RedemptionCreate,
    RedemptionPublic,
    ReservationCreate,
    TeamCreate,
    TeamPage,
    TeamPublic,
    VolunteerCreate,
    VolunteerPage,
    VolunteerPublic,
    VolunteerRef,
    VolunteerUpdate,
)
from shared.auth import CurrentPrincipal, Principal
from shared.http import ApiError, CorrelationId, app_deps
from shared.inputs import Cursor as PageCursor
from shared.orgpath import OrgPath
from shared.rules import DistrictRules
from shared.visibility import view_for

Deps = Annotated[VolunteersDeps, Depends(app_deps)]
Cursor = Annotated[PageCursor | None, Query(max_length=100)]
Limit = Annotated[int, Query(ge=1, le=200)]


orgs = APIRouter(prefix="/v1/orgs", tags=["org tree / 组织架构"])
volunteers = APIRouter(prefix="/v1/volunteers", tags=["volunteers / 志愿者"])
organizations = APIRouter(prefix="/v1/organizations", tags=["organizations / 共建单位"])
teams = APIRouter(prefix="/v1/teams", tags=["teams / 志愿服务队"])
supermarket = APIRouter(prefix="/v1/supermarket", tags=["love supermarket / 爱心超市"])
certificates = APIRouter(prefix="/v1/certificates", tags=["certificates / 志愿服务记录证明"])


# --- org tree -------------------------------------------------------------------------


@orgs.put(
    "/{path}",
    response_model=OrgUnitPublic,
    responses={201: {"model": OrgUnitPublic, "description": "created"}},
    summary="Create or rename an org unit",
    description=(
        "The level follows from the depth: district → street → community → grid. The parent "
        "must exist (422 otherwise). Only an admin *above* the unit may create or rename it "
        "(a district admin creates streets in their district, a street admin communities, a "
        "community admin grids). A district itself is created by a `service` token whose "
        "scope covers it or by the `district_admin` whose scope is exactly that district. "
        "Renaming keeps the children. Emits `org.tongxin.org_unit.updated` when something "
        "changed; 201 when created, 200 otherwise."
    ),
)
async def put_org_unit(
    path: OrgPath,
    body: OrgUnitPut,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    response: Response,
) -> OrgUnitPublic:
    unit, created = await commands.put_org_unit(deps, principal, path, body.name, cid)
    response.status_code = 201 if created else 200
    _, children = await queries.get_org_unit(deps, path)
    return OrgUnitPublic.of(unit, children)


@orgs.get(
    "/{path}",
    response_model=OrgUnitPublic,
    description="The unit with its children; readable by every authenticated caller.",
)
async def get_org_unit(path: OrgPath, principal: CurrentPrincipal, deps: Deps) -> OrgUnitPublic:
    unit, children = await queries.get_org_unit(deps, path)
    return OrgUnitPublic.of(unit, children)


@orgs.put(
    "/{district}/rules",
    response_model=DistrictRules,
    summary="Set a district's local rules",
    description=(
        "Star thresholds (five rising cumulative hours), points per verified hour, days "
        "until an unconfirmed completion is confirmed automatically, active-claim caps per "
        "volunteer and per organisation, and whether check-in is required. The whole set "
        "each time; defaults are the platform's rules. By the district's own admin or a "
        "service token covering it. Emits `org.tongxin.district.rules_changed` when "
        "something changed."
    ),
)
async def put_district_rules(
    district: OrgPath,
    body: DistrictRules,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
) -> DistrictRules:
    return await commands.put_district_rules(deps, principal, district, body, cid)


@orgs.get(
    "/{district}/rules",
    response_model=DistrictRules,
    description="A district's local rules (the defaults until it sets its own).",
)
async def get_district_rules(
    district: OrgPath, principal: CurrentPrincipal, deps: Deps
) -> DistrictRules:
    return await queries.get_district_rules(deps, district)


# --- volunteers -----------------------------------------------------------------------


def _public(principal: Principal, v: Volunteer) -> VolunteerPublic:
    return VolunteerPublic.of(v, view_for(principal, "volunteer", v.home_community_id, v.id))


@volunteers.post(
    "",
    status_code=201,
    response_model=VolunteerPublic,
    description=(
        "Reports a volunteer in (报到) to their home community: by an admin in scope (or a "
        "`service` token). One volunteer per phone per community: the id is derived from "
        "both, and a second report-in answers 409 naming the existing `volunteer_id`."
    ),
)
async def register_volunteer(
    body: VolunteerCreate, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> VolunteerPublic:
    cmd = NewVolunteer(**body.model_dump())
    return _public(principal, await commands.register_volunteer(deps, principal, cmd, cid))


@volunteers.post(
    ":import",
    response_model=ImportReport,
    description=(
        "Bulk reporting in from a CSV (UTF-8 or GBK) or XLSX file with the headers 姓名, "
        "手机号, 所在社区 (the community's name, unique in the importer's scope, or its "
        "path), 党组织, 技能 (separated by 、,，; or spaces); "
        "optional 已签承诺书 (blank or 否 refuses the row) and 行号 (the row number to "
        "report). Every row gets a result — created, duplicate or error with its reason — "
        "and running the same file twice creates nothing new. Admins only; rows outside "
        "their scope are errors."
    ),
)
async def import_volunteers(
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    file: Annotated[UploadFile, File(description="CSV or XLSX")],
) -> ImportReport:
    policy.require_importer(principal)
    content = await file.read()
    try:
        rows = await asyncio.to_thread(read_rows, content, deps.import_max_rows)
    except ImportFileError as exc:
        raise ApiError(422, str(exc), details={"file": file.filename}) from None
    return await commands.import_volunteers(deps, principal, rows, cid)


@volunteers.get(
    "",
    response_model=VolunteerPage,
    description=(
        "Volunteers of a scope (default: the caller's), optionally with a skill or a name "
        "fragment `q`; deactivated ones only with `include_inactive`. Ordered by id."
    ),
)
async def list_volunteers(
    principal: CurrentPrincipal,
    deps: Deps,
    scope: Annotated[OrgPath | None, Query()] = None,
    skill: Annotated[str | None, Query(max_length=40)] = None,
    q: Annotated[str | None, Query(max_length=60)] = None,
    include_inactive: bool = False,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> VolunteerPage:
    items, next_cursor = await queries.list_volunteers(
        deps,
        principal,
        scope=scope,
        skill=skill,
        q=q,
        include_inactive=include_inactive,
        cursor=cursor,
        limit=limit,
    )
    return VolunteerPage(items=[_public(principal, v) for v in items], next_cursor=next_cursor)


@volunteers.get("/{volunteer_id}", response_model=VolunteerPublic)
async def get_volunteer(
    volunteer_id: str, principal: CurrentPrincipal, deps: Deps
) -> VolunteerPublic:
    return _public(principal, await queries.get_volunteer(deps, principal, volunteer_id))


@volunteers.patch(
    "/{volunteer_id}",
    response_model=VolunteerPublic,
    description="By the volunteer or an admin in scope. Emits `volunteer.updated`.",
)
async def update_volunteer(
    volunteer_id: str,
    body: VolunteerUpdate,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
) -> VolunteerPublic:
    changes = schemas.VolunteerChanges(**body.model_dump(exclude_unset=True))
    v = await commands.update_volunteer(deps, principal, volunteer_id, changes, cid=cid)
    return _public(principal, v)


def _activation(verb: str, active: bool, description: str) -> None:
    """The deactivate and reactivate routes (one body; `active` is what they set)."""

    async def endpoint(
        volunteer_id: str, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
    ) -> VolunteerPublic:
        v = await commands.update_volunteer(deps, principal, volunteer_id, active=active, cid=cid)
        return _public(principal, v)

    endpoint.__name__ = endpoint.__qualname__ = f"{verb}_volunteer"
    volunteers.add_api_route(
        f"/{{volunteer_id}}/{verb}",
        endpoint,
        methods=["POST"],
        response_model=VolunteerPublic,
        description=description,
    )


_activation(
    "deactivate",
    False,
    "By the volunteer or an admin in scope; emits `volunteer.updated` (active false).",
)
_activation("reactivate", True, "By an admin in scope; emits `volunteer.updated` (active true).")


@volunteers.get(
    "/{volunteer_id}/passbook",
    response_model=PassbookPublic,
    description=(
        "The love passbook (爱心存折): balance, cumulative hours, stars and the newest "
        "`limit` ledger entries. For the volunteer (token sub = id) and admins or "
        "operators in scope."
    ),
)
async def get_passbook(
    volunteer_id: str,
    principal: CurrentPrincipal,
    deps: Deps,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> PassbookPublic:
    book, ledger, stars = await queries.get_passbook(deps, principal, volunteer_id, limit)
    return PassbookPublic.of(book, ledger, stars)


@volunteers.post(
    "/{volunteer_id}/redemptions",
    status_code=201,
    response_model=RedemptionPublic,
    description=(
        "Records points spent at the counter on something outside the love supermarket's "
        "catalogue: by an admin of the volunteer's community only (volunteers reserve from "
        "the catalogue, `/v1/supermarket`). 409 when the balance is short; the balance "
        "never goes negative."
    ),
)
async def redeem(
    volunteer_id: str,
    body: RedemptionCreate,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
) -> RedemptionPublic:
    book, entry = await commands.redeem_points(
        deps, principal, volunteer_id, item=body.item, points=body.points, cid=cid
    )
    return RedemptionPublic(
        redemption_id=entry.id.removeprefix("redemption:"),
        volunteer_id=volunteer_id,
        item=entry.item or body.item,
        points=body.points,
        balance=book.balance,
    )


# --- organisations --------------------------------------------------------------------


@organizations.post(
    "",
    status_code=201,
    response_model=OrganizationPublic,
    description="An enterprise or social organisation as a claimant; by an admin in scope.",
)
async def register_organization(
    body: OrganizationCreate, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> OrganizationPublic:
    org = await commands.register_organization(deps, principal, **body.model_dump(), cid=cid)
    return OrganizationPublic.of(org)


@organizations.get("", response_model=OrganizationPage)
async def list_organizations(
    principal: CurrentPrincipal,
    deps: Deps,
    scope: Annotated[OrgPath | None, Query()] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> OrganizationPage:
    where = scope or principal.scope
    policy.require_scope(principal, where)
    items, next_cursor = await deps.repo.list_organizations(where, cursor, limit)
    return OrganizationPage(
        items=[OrganizationPublic.of(o) for o in items], next_cursor=next_cursor
    )


@organizations.get("/{organization_id}", response_model=OrganizationPublic)
async def get_organization(
    organization_id: str, principal: CurrentPrincipal, deps: Deps
) -> OrganizationPublic:
    return OrganizationPublic.of(await queries.get_organization(deps, principal, organization_id))


# --- teams ----------------------------------------------------------------------------


@teams.post(
    "",
    status_code=201,
    response_model=TeamPublic,
    description=(
        "Forms a volunteer service team (志愿服务队) of a community, by an admin in scope; "
        "the leader (an active volunteer of that community) is its first member."
    ),
)
async def form_team(
    body: TeamCreate, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> TeamPublic:
    return TeamPublic.of(await commands.form_team(deps, principal, **body.model_dump(), cid=cid))


@teams.get("", response_model=TeamPage)
async def list_teams(
    principal: CurrentPrincipal,
    deps: Deps,
    scope: Annotated[OrgPath | None, Query()] = None,
    service_type: Annotated[str | None, Query(max_length=40)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> TeamPage:
    where = scope or principal.scope
    policy.require_scope(principal, where)
    items, next_cursor = await deps.repo.list_teams(where, service_type, cursor, limit)
    return TeamPage(items=[TeamPublic.of(t) for t in items], next_cursor=next_cursor)


@teams.get("/{team_id}", response_model=TeamPublic)
async def get_team(team_id: str, principal: CurrentPrincipal, deps: Deps) -> TeamPublic:
    return TeamPublic.of(await queries.get_team(deps, principal, team_id))


@teams.post(
    "/{team_id}/members",
    response_model=TeamPublic,
    responses={201: {"model": TeamPublic, "description": "joined"}},
    description=(
        "Adds an active volunteer of the team's community (422 for another community); by an "
        "admin in scope or the team leader. 201 when they joined, 200 if already a member."
    ),
)
async def add_member(
    team_id: str,
    body: VolunteerRef,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    response: Response,
) -> TeamPublic:
    team, joined = await commands.add_team_member(deps, principal, team_id, body.volunteer_id, cid)
    response.status_code = 201 if joined else 200
    return TeamPublic.of(team)


@teams.put(
    "/{team_id}/leader",
    response_model=TeamPublic,
    description=(
        "Hands the lead to a member (409 if not a member); by an admin in scope or the "
        "current leader. Emits `team.leader_changed`."
    ),
)
async def change_leader(
    team_id: str,
    body: VolunteerRef,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
) -> TeamPublic:
    team = await commands.change_team_leader(deps, principal, team_id, body.volunteer_id, cid)
    return TeamPublic.of(team)


# --- certificates (志愿服务记录证明) ------------------------------------------------------


def verify_url(request: Request, serial: str) -> str:
    return str(request.url_for("verify_certificate", serial=serial))


@certificates.post(
    "",
    status_code=201,
    response_model=Certificate,
    description=(
        "Issues a certificate of the volunteer's verified services in the period, by the "
        "community that recorded them (`issuer_id`, default the volunteer's home). By the "
        "volunteer or an admin of that community. Serial `TX-<district>-<year>-<seq>`, "
        "unique in the district. Emits `org.tongxin.certificate.issued`."
    ),
)
async def request_certificate(
    body: CertificateRequest,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    response: Response,
) -> Certificate:
    cert = await commands.request_certificate(
        deps,
        principal,
        body.volunteer_id,
        body.period_from,
        body.period_to,
        body.issuer_id,
        cid,
    )
    response.headers["Location"] = f"/v1/certificates/{cert.serial}"
    return cert


@certificates.get(
    "/{serial}.pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
    description="The certificate as a PDF (the volunteer, admins in scope).",
)
async def certificate_pdf_of(
    serial: str, request: Request, principal: CurrentPrincipal, deps: Deps
) -> Response:
    cert = await queries.get_certificate(deps, principal, serial)
    pdf = await asyncio.to_thread(certificate_pdf.render, cert, verify_url(request, serial))
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{serial}.pdf"'},
    )


@certificates.get(
    "/{serial}/verify",
    response_model=CertificateCheck,
    description=(
        "No sign-in: valid or revoked, the masked name, hours, issuer and the document hash "
        "printed on the certificate. A serial never issued is 404."
    ),
)
async def verify_certificate(serial: str, deps: Deps) -> CertificateCheck:
    return CertificateCheck.of(await queries.verify_certificate(deps, serial))


@certificates.get("/{serial}", response_model=Certificate)
async def get_certificate(serial: str, principal: CurrentPrincipal, deps: Deps) -> Certificate:
    return await queries.get_certificate(deps, principal, serial)


@certificates.post(
    "/{serial}/revoke",
    response_model=Certificate,
    description="By an admin of the issuing community, with a reason.",
)
async def revoke_certificate(
    serial: str,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
    body: Annotated[CertificateRevoke, Body()],
) -> Certificate:
    return await commands.revoke_certificate(deps, principal, serial, body.reason, cid)


# --- love supermarket (爱心超市) ----------------------------------------------------------


@supermarket.post(
    "/items",
    status_code=201,
    response_model=ItemPublic,
    description="An item of the community's catalogue, by its admins (the shopkeepers).",
)
async def create_item(
    body: ItemCreate, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> ItemPublic:
    item = await commands.create_item(
        deps,
        principal,
        community_id=body.community_id,
        name=body.name,
        points=body.points,
        stock=body.stock,
        cid=cid,
    )
    return ItemPublic.of(item, body.stock)


@supermarket.get(
    "/items",
    response_model=list[ItemPublic],
    description="A community's catalogue with the stock free now (anyone in scope).",
)
async def list_items(
    principal: CurrentPrincipal,
    deps: Deps,
    community_id: Annotated[OrgPath, Query()],
) -> list[ItemPublic]:
    rows = await queries.catalogue(deps, principal, community_id)
    return [ItemPublic.of(item, stock) for item, stock in rows]


@supermarket.patch(
    "/items/{item_id}",
    response_model=ItemPublic,
    description="Reprice, restock (`add_stock`) or take off sale, by the community's admins.",
)
async def change_item(
    item_id: str, body: ItemChange, principal: CurrentPrincipal, deps: Deps, cid: CorrelationId
) -> ItemPublic:
    item = await commands.change_item(
        deps,
        principal,
        item_id,
        points=body.points,
        add_stock=body.add_stock,
        active=body.active,
        cid=cid,
    )
    [(_, stock)] = [
        r for r in await queries.catalogue(deps, principal, item.community_id) if r[0].id == item.id
    ]
    return ItemPublic.of(item, stock)


@supermarket.post(
    "/items/{item_id}/reservations",
    status_code=201,
    response_model=Reservation,
    description=(
        "A volunteer of the community reserves one unit: the points are held and a pick-up "
        "code issued. 409 when out of stock or the balance is short; neither goes negative."
    ),
)
async def reserve_item(
    item_id: str,
    body: ReservationCreate,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
) -> Reservation:
    return await commands.reserve_item(deps, principal, item_id, body.volunteer_id, cid)


@supermarket.get("/reservations/{reservation_id}", response_model=Reservation)
async def get_reservation(
    reservation_id: str, principal: CurrentPrincipal, deps: Deps
) -> Reservation:
    return await queries.get_reservation(deps, principal, reservation_id)


@supermarket.post(
    "/reservations/{reservation_id}/handover",
    response_model=Reservation,
    description="The shopkeeper (a community admin) hands the item over against its code.",
)
async def hand_over(
    reservation_id: str,
    body: HandOver,
    principal: CurrentPrincipal,
    deps: Deps,
    cid: CorrelationId,
) -> Reservation:
    return await commands.hand_over(deps, principal, reservation_id, body.code, cid)


routers = [orgs, volunteers, organizations, teams, supermarket, certificates]
