"""Certificates of voluntary service (志愿服务记录证明, #15) on the real Kafka and FerretDB: issued
by the recording community for verified hours, a PDF whose Chinese `pdftotext` reads back,
a public verify address, revocation, forged serials, serials unique under concurrency."""

from __future__ import annotations

import asyncio
import re
import subprocess
from datetime import UTC, date, datetime
from typing import Any

from services.volunteers.app import create_app
from shared.events.envelope import CloudEvent
from shared.kafka.producer import EventProducer
from shared.kafka.topics import ensure_topics
from shared.settings import Settings
from shared.visibility import FIELD_MATRIX
from tests.helpers import auth, eventually, running
from tests.integration.test_district_rules import verified
from tests.integration.test_volunteers_passbook import COMMUNITY, passbook, report_in


def service(volunteer_id: str, title: str, hours: float, community: str = COMMUNITY) -> CloudEvent:
    return CloudEvent.wrap(verified(volunteer_id, hours, title, community))


def pdf_text(pdf: bytes) -> str:
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=pdf, capture_output=True, check=True
    )
    return done.stdout.decode()


async def test_a_certificate_reads_back_verifies_and_is_revoked(settings: Settings) -> None:
    async with running(create_app(settings)) as client:
        vid = await report_in(client, settings, "13812345678")
        service_token = auth(settings, "service", "zhongshan")
        await client.put(f"/v1/orgs/{COMMUNITY}", json={"name": "东风社区"}, headers=service_token)
        await ensure_topics(settings)
        producer = EventProducer(settings)
        await producer.start()
        try:
            await producer.publish(
                settings.topics.needs,
                [
                    service(vid, "陪独居老人去医院复诊", 3),
                    service(vid, "社区垃圾分类宣传", 2.5),
                    service(vid, "别的社区的服务", 4, community="zhongshan.hongyan.xinhua"),
                ],
            )
        finally:
            await producer.stop()

        async def credited() -> dict[str, Any] | None:
            book = await passbook(client, settings, vid)
            return book if len(book.get("ledger", [])) == 3 else None

        await eventually(credited, timeout=30)
        volunteer = auth(settings, "volunteer", COMMUNITY, sub=vid)
        today = datetime.now(UTC).date()
        period = {
            "volunteer_id": vid,
            "from": date(today.year, 1, 1).isoformat(),
            "to": today.isoformat(),
        }
        issued = await client.post("/v1/certificates", json=period, headers=volunteer)
        assert issued.status_code == 201, issued.text
        cert = issued.json()
        serial = cert["serial"]
        assert re.fullmatch(rf"TX-zhongshan-{today.year}-\d{{6}}", serial), serial
        # 谁记录谁证明: only what 东风社区 recorded
        assert cert["total_hours"] == 5.5 and len(cert["services"]) == 2
        assert cert["issuer_name"] == "东风社区" and cert["masked_phone"] == "138****5678"
        # the volunteer themself: the name whole, the phone masked (FIELD_MATRIX: certificate)
        assert FIELD_MATRIX["certificate"]["self"] == {
            "volunteer_name": "whole",
            "masked_phone": "masked",
        }
        assert cert["volunteer_name"] == "李红"

        pdf = await client.get(f"/v1/certificates/{serial}.pdf", headers=volunteer)
        assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
        text = pdf_text(pdf.content)
        for printed in (
            "志愿服务记录证明",
            "李红",
            serial,
            "东风社区",
            "5.5 小时",
            "陪独居老人去医院复诊",
        ):
            assert printed in text, (printed, text)
        assert cert["document_hash"] in text.replace("\n", "")
        row = next(r for r in text.splitlines() if "陪独居老人去医院复诊" in r)
        assert re.match(r"\s*\d{4}-\d{2}-\d{2}\s", row) and row.rstrip().endswith(" 3"), row
        assert "138****5678" in text and "13812345678" not in text
        assert f"/v1/certificates/{serial}/verify" in text  # the address its QR code holds

        stranger = auth(settings, "volunteer", COMMUNITY, sub="someone-else")
        hidden = await client.get(f"/v1/certificates/{serial}.pdf", headers=stranger)
        assert hidden.status_code == 404, hidden.text

        check = await client.get(f"/v1/certificates/{serial}/verify")  # no sign-in
        assert check.status_code == 200, check.text
        body = check.json()
        assert (body["status"], body["volunteer"], body["total_hours"]) == ("valid", "李*", 5.5)
        assert FIELD_MATRIX["certificate_check"] == {"other": {"volunteer": "masked"}}
        assert body["document_hash"] == cert["document_hash"] and "13812345678" not in check.text

        not_issuer = await client.post(
            f"/v1/certificates/{serial}/revoke", json={"reason": "x"}, headers=volunteer
        )
        assert not_issuer.status_code == 403, not_issuer.text
        admin = auth(settings, "community_admin", COMMUNITY)
        revoked = await client.post(
            f"/v1/certificates/{serial}/revoke", json={"reason": "服务记录有误"}, headers=admin
        )
        assert revoked.status_code == 200, revoked.text
        check = (await client.get(f"/v1/certificates/{serial}/verify")).json()
        assert (check["status"], check["revoked_reason"]) == ("revoked", "服务记录有误")

        for forged in (f"TX-zhongshan-{today.year}-999999", "TX-fake", "../etc"):
            assert (await client.get(f"/v1/certificates/{forged}/verify")).status_code == 404

        # concurrent requests (the volunteer's, an admin's in scope) get distinct serials
        many = await asyncio.gather(
            *(client.post("/v1/certificates", json=period, headers=volunteer) for _ in range(5)),
            client.post("/v1/certificates", json=period, headers=admin),
        )
        assert all(r.status_code == 201 for r in many), [r.text for r in many]
        serials = sorted(r.json()["serial"] for r in many)
        assert len(set(serials)) == 6 and serial not in serials
        numbers = sorted(int(s.rsplit("-", 1)[1]) for s in [serial, *serials])
        assert numbers == list(range(numbers[0], numbers[0] + 7))
        outside = auth(settings, "community_admin", "futian.lianhua.meilin")
        refused = await client.post("/v1/certificates", json=period, headers=outside)
        assert refused.status_code in (403, 404), refused.text

        empty = await client.post(
            "/v1/certificates",
            json={**period, "from": "2001-01-01", "to": "2001-12-31"},
            headers=volunteer,
        )
        assert empty.status_code == 422 and "没有已核实的服务记录" in empty.text, empty.text
