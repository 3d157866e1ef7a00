"""Certificates of voluntary service (志愿服务记录证明). No I/O.

Following the Ministry of Civil Affairs' rules for volunteer records and certificates
(谁记录谁证明): the community that recorded the services issues the certificate; it names the
volunteer (with a masked phone), lists each verified service in the period (date, content,
hours) and the total, the issuer and the date, and carries a serial unique in the district,
`TX-<district>-<year>-<seq>`, whose first commit (a unique insert) decides who gets which
number. The document hash covers everything printed, so a third party can check a copy
against `GET /v1/certificates/{serial}/verify`.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel

from services.volunteers.domain.org_unit import OrgUnit
from services.volunteers.domain.passbook import Credit, Passbook
from services.volunteers.domain.volunteer import Volunteer
from shared.errors import DomainError
from shared.events.volunteers import CertificateIssued, CertificateRevoked
from shared.privacy import mask_phone

SERIAL = re.compile(r"^TX-([a-z0-9][a-z0-9_-]{0,39})-(\d{4})-(\d{6})$")
COMMUNITY_DEPTH = 3


class ServiceLine(BaseModel):
    served_on: date
    content: str
    hours: float


class Certificate(BaseModel):
    serial: str
    volunteer_id: str
    volunteer_name: str
    masked_phone: str
    issuer_id: str  # the community that recorded the services
    issuer_name: str
    period_from: date
    period_to: date
    issued_on: date
    services: list[ServiceLine]
    total_hours: float
    document_hash: str
    status: Literal["valid", "revoked"] = "valid"
    requested_by: str
    revoked_reason: str | None = None
    revoked_by: str | None = None
    revoked_at: datetime | None = None


def serial_for(district: str, year: int, seq: int) -> str:
    return f"TX-{district}-{year}-{seq:06d}"


def valid_serial(serial: str) -> bool:
    return SERIAL.match(serial) is not None


def recorded_by(credit: Credit) -> str | None:
    """The community a service was recorded in (a grid's need is its community's)."""
    if credit.community_id is None:
        return None
    return ".".join(credit.community_id.split(".")[:COMMUNITY_DEPTH])


def services_in(book: Passbook, issuer_id: str, start: date, end: date) -> list[ServiceLine]:
    """The verified services the issuer recorded in the period, oldest first."""
    lines = [
        ServiceLine(
            served_on=c.served_at.date(), content=c.title or "志愿服务", hours=round(c.hours, 2)
        )
        for c in book.credits.values()
        if c.served_at is not None
        and c.hours > 0
        and recorded_by(c) == issuer_id
        and start <= c.served_at.date() <= end
    ]
    return sorted(lines, key=lambda line: (line.served_on, line.content))


def document_hash(fields: dict[str, object]) -> str:
    canonical = json.dumps(fields, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def issue(
    *,
    serial: str,
    volunteer: Volunteer,
    book: Passbook,
    issuer: OrgUnit | None,
    issuer_id: str,
    start: date,
    end: date,
    by: str,
    now: datetime,
) -> tuple[Certificate, CertificateIssued]:
    if end < start:
        raise DomainError(
            "invalid", "结束日期早于开始日期 / the period ends before it starts", field="to"
        )
    if issuer is None or issuer.level != "community":
        raise DomainError(
            "invalid",
            f"出具单位须为已登记的社区：{issuer_id} / the issuer must be a known community",
            field="issuer_id",
        )
    services = services_in(book, issuer_id, start, end)
    if not services:
        raise DomainError(
            "invalid",
            "该期间本社区没有已核实的服务记录 / no verified service recorded by this "
            "community in the period",
            field="from",
        )
    total = round(sum(s.hours for s in services), 2)
    printed: dict[str, object] = {
        "serial": serial,
        "volunteer_name": volunteer.name,
        "masked_phone": mask_phone(volunteer.phone),
        "issuer_id": issuer_id,
        "issuer_name": issuer.name,
        "period": [start.isoformat(), end.isoformat()],
        "issued_on": now.date().isoformat(),
        "services": [s.model_dump(mode="json") for s in services],
        "total_hours": total,
    }
    certificate = Certificate(
        serial=serial,
        volunteer_id=volunteer.id,
        volunteer_name=volunteer.name,
        masked_phone=mask_phone(volunteer.phone),
        issuer_id=issuer_id,
        issuer_name=issuer.name,
        period_from=start,
        period_to=end,
        issued_on=now.date(),
        services=services,
        total_hours=total,
        document_hash=document_hash(printed),
        requested_by=by,
    )
    event = CertificateIssued(
        serial=serial,
        volunteer_id=volunteer.id,
        community_id=issuer_id,
        total_hours=total,
        services=len(services),
        document_hash=certificate.document_hash,
        issued_by=by,
        issued_at=now,
    )
    return certificate, event


def revoke(
    certificate: Certificate, reason: str, by: str, now: datetime
) -> tuple[Certificate, CertificateRevoked]:
    if certificate.status == "revoked":
        raise DomainError("conflict", "证明已撤销 / the certificate is already revoked")
    revoked = certificate.model_copy(
        update={"status": "revoked", "revoked_reason": reason, "revoked_by": by, "revoked_at": now}
    )
    return revoked, CertificateRevoked(
        serial=certificate.serial,
        volunteer_id=certificate.volunteer_id,
        community_id=certificate.issuer_id,
        reason=reason,
        revoked_by=by,
        revoked_at=now,
    )
