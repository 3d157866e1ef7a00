"""Service records people can trust (#15), across needs, volunteers and metrics on the real
Kafka and FerretDB: points only for verified hours, a dispute's reversing entry, an
implausible completion held in review and shown apart on the dashboard.

Long because each trust rule is shown across three services end to end, one test each.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from services.metrics.app import create_app as metrics_app
from services.needs.app import create_app as needs_app
from services.volunteers.app import create_app as volunteers_app
from shared.settings import Settings
from tests.e2e.test_dashboard import chromium, figure, watch_errors
from tests.e2e.test_need_lifecycle_across_services import until_status
from tests.helpers import (
    auth,
    events_of,
    eventually,
    free_port,
    read_topic,
    running,
    serving,
    token,
)

DISTRICT, STREET, COMMUNITY = "zhongshan", "zhongshan.hongyan", "zhongshan.hongyan.dongfeng"


@dataclass
class Town:
    settings: Settings
    needs: httpx.AsyncClient
    volunteers: httpx.AsyncClient
    metrics: httpx.AsyncClient
    volunteer_id: str

    def as_(self, role: str, sub: str, scope: str = COMMUNITY) -> dict[str, str]:
        return auth(self.settings, role, scope, sub=sub)

    @property
    def volunteer(self) -> dict[str, str]:
        return self.as_("volunteer", self.volunteer_id)

    @property
    def resident(self) -> dict[str, str]:
        return self.as_("resident", "resident-wang")

    @property
    def admin(self) -> dict[str, str]:
        return self.as_("community_admin", "admin-dongfeng")

    async def claimed_need(self) -> str:
        body = {
            "community_id": COMMUNITY,
            "title": "陪独居老人去医院复诊",
            "category": "elderly_care",
            "slots": 1,
            "beneficiaries": 1,
            "requester": {"name": "王阿姨", "phone": "13812345678"},
        }
        posted = await until_status(
            lambda: self.needs.post("/v1/needs", json=body, headers=self.resident), 201
        )
        need_id = str(posted.json()["id"])
        approved = await self.needs.post(f"/v1/needs/{need_id}/approve", headers=self.admin)
        assert approved.status_code == 200, approved.text
        await until_status(
            lambda: self.needs.post(
                f"/v1/needs/{need_id}/claims",
                headers=self.volunteer,
                json={"volunteer_id": self.volunteer_id},
            ),
            201,
        )
        return need_id

    async def complete(self, need_id: str, hours: float, **figures: int) -> dict[str, Any]:
        r = await self.needs.post(
            f"/v1/needs/{need_id}/completion",
            headers=self.volunteer,
            json={"hours": [{"volunteer_id": self.volunteer_id, "hours": hours}], **figures},
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def passbook(self) -> dict[str, Any]:
        r = await self.volunteers.get(
            f"/v1/volunteers/{self.volunteer_id}/passbook", headers=self.volunteer
        )
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def passbook_when(self, entries: int) -> dict[str, Any]:
        async def ready() -> dict[str, Any] | None:
            book = await self.passbook()
            return book if len(book["ledger"]) == entries else None

        return await eventually(ready, timeout=30)

    async def stats(self) -> dict[str, Any]:
        operator = self.as_("operator", "operator-1", DISTRICT)
        r = await self.metrics.get("/v1/stats", params={"scope": DISTRICT}, headers=operator)
        assert r.status_code == 200, r.text
        return dict(r.json())


@asynccontextmanager
async def town(settings: Settings) -> AsyncIterator[Town]:
    service = auth(settings, "service", DISTRICT, sub="provisioning")
    async with (
        running(volunteers_app(settings)) as volunteers,
        running(needs_app(settings)) as needs,
        serving(metrics_app(settings), free_port()) as metrics_url,  # the dashboard's too
        httpx.AsyncClient(base_url=metrics_url) as metrics,
    ):
        for path, name in ((DISTRICT, "中山区"), (STREET, "红岩街道"), (COMMUNITY, "东风社区")):
            put = await volunteers.put(f"/v1/orgs/{path}", json={"name": name}, headers=service)
            assert put.status_code == 201, put.text
        reported = await volunteers.post(
            "/v1/volunteers",
            headers=auth(settings, "community_admin", COMMUNITY, sub="admin-dongfeng"),
            json={
                "name": "李志愿",
                "phone": "13900001234",
                "home_community_id": COMMUNITY,
                "skills": ["elderly_care"],
                "pledge_signed": True,
            },
        )
        assert reported.status_code == 201, reported.text
        yield Town(settings, needs, volunteers, metrics, str(reported.json()["id"]))


async def test_declared_hours_earn_nothing_until_confirmed_and_a_dispute_posts_a_reversal(
    settings: Settings,
) -> None:
    async with town(settings) as t:
        need_id = await t.claimed_need()
        done = await t.complete(need_id, 3)
        assert done["completion"]["hours_status"] == "declared"
        # a later need's verified hours (same volunteer) show the first earned nothing
        marker = await t.claimed_need()
        await t.complete(marker, 1)
        verified = await t.needs.post(
            f"/v1/needs/{marker}/completion/verification", headers=t.admin, json={}
        )
        assert verified.status_code == 200, verified.text
        book = await t.passbook_when(1)
        assert (book["balance"], book["hours"]) == (10, 1.0)

        confirmed = await t.needs.post(
            f"/v1/needs/{need_id}/confirmation", headers=t.resident, json={"rating": 5}
        )
        assert confirmed.status_code == 200, confirmed.text
        assert confirmed.json()["completion"]["hours_status"] == "verified"
        book = await t.passbook_when(2)
        assert book["ledger"][0]["points"] == 30 and book["balance"] == 40

        disputed = await t.needs.post(
            f"/v1/needs/{need_id}/completion/dispute",
            headers=t.resident,
            json={"reason": "其实只陪了两小时"},
        )
        assert disputed.status_code == 200, disputed.text
        assert disputed.json()["completion"]["hours_status"] == "disputed"
        # the resident cannot settle it; an admin settles with a reason
        refused = await t.needs.post(
            f"/v1/needs/{need_id}/completion/verification",
            headers=t.resident,
            json={"hours": [{"volunteer_id": t.volunteer_id, "hours": 2}], "reason": "x"},
        )
        assert refused.status_code == 403, refused.text
        no_reason = await t.needs.post(
            f"/v1/needs/{need_id}/completion/verification",
            headers=t.admin,
            json={"hours": [{"volunteer_id": t.volunteer_id, "hours": 2}]},
        )
        assert no_reason.status_code == 422 and "理由" in no_reason.text, no_reason.text
        settled = await t.needs.post(
            f"/v1/needs/{need_id}/completion/verification",
            headers=t.admin,
            json={
                "hours": [{"volunteer_id": t.volunteer_id, "hours": 2}],
                "reason": "核实为两小时",
            },
        )
        assert settled.status_code == 200, settled.text
        assert settled.json()["completion"]["revision"] == 2

        book = await t.passbook_when(3)
        reversal = book["ledger"][0]
        assert (reversal["kind"], reversal["points"], reversal["hours"]) == ("reversal", -10, -1.0)
        assert book["balance"] == 30 == sum(e["points"] for e in book["ledger"])
        assert book["hours"] == 3.0

        async def counted() -> dict[str, Any] | None:
            stats = await t.stats()
            return stats if stats["volunteer_hours"] == 3 else None

        stats = await eventually(counted, timeout=30)
        assert stats["pending_completions"] == 0


async def test_an_implausible_completion_waits_in_review_and_counts_only_once_accepted(
    settings: Settings,
) -> None:
    async with town(settings) as t:
        need_id = await t.claimed_need()
        trillion_fen = 10**12  # ¥10¹⁰, with the audit's 10⁷ beneficiaries and goods
        done = await t.complete(
            need_id, 3, funds_cents=trillion_fen, beneficiaries_served=10**7, goods_count=10**7
        )
        assert done["completion"]["hours_status"] == "review"
        reasons = " ".join(done["completion"]["review_reasons"])
        assert all(word in reasons for word in ("资金", "服务对象", "物资")), reasons

        async def pending() -> dict[str, Any] | None:
            stats = await t.stats()
            return stats if stats["pending_completions"] == 1 else None

        stats = await eventually(pending, timeout=30)
        assert stats["pending_funds_cents"] == trillion_fen
        assert stats["pending_beneficiaries_served"] == stats["pending_goods_count"] == 10**7
        assert (stats["funds_cents"], stats["volunteer_hours"]) == (0, 0)
        assert (stats["beneficiaries_served"], stats["goods_count"]) == (0, 0)
        async with chromium() as browser:  # the dashboard shows it apart, as pending
            page = await browser.new_page()
            errors = watch_errors(page)
            operator = token(settings, "operator", DISTRICT)
            await page.goto(f"{str(t.metrics.base_url).rstrip('/')}/dashboard?token={operator}")
            await page.wait_for_selector("#pending-cards #figure-pending_funds_cents")
            assert await figure(page, "pending_funds_cents") == str(trillion_fen)
            assert float(await figure(page, "pending_volunteer_hours") or 0) == 3
            assert await figure(page, "funds_cents") == "0"
            shown = await page.inner_text("#figure-pending_funds_cents")
            assert "待核实资金" in shown and "10,000,000,000.00" in shown, shown
            assert errors == []

        # the resident's rating does not release hours under review
        confirmed = await t.needs.post(
            f"/v1/needs/{need_id}/confirmation", headers=t.resident, json={"rating": 4}
        )
        assert confirmed.json()["completion"]["hours_status"] == "review", confirmed.text
        own = await t.needs.post(
            f"/v1/needs/{need_id}/completion/verification", headers=t.volunteer, json={}
        )
        assert own.status_code == 403, own.text  # not by the claimer
        accepted = await t.needs.post(
            f"/v1/needs/{need_id}/completion/verification",
            headers=t.admin,
            json={
                "funds_cents": 5_000,
                "beneficiaries_served": 1,
                "goods_count": 3,
                "reason": "票据核对为 50 元，服务 1 人，物资 3 件",
            },
        )
        assert accepted.status_code == 200, accepted.text

        async def counted() -> dict[str, Any] | None:
            stats = await t.stats()
            return stats if stats["pending_completions"] == 0 else None

        stats = await eventually(counted, timeout=30)
        assert (stats["funds_cents"], stats["volunteer_hours"]) == (5_000, 3)
        assert (stats["beneficiaries_served"], stats["goods_count"]) == (1, 3)
        book = await t.passbook_when(1)
        assert book["balance"] == 30


async def test_a_grid_worker_verifies_for_the_resident_and_both_are_on_the_record(
    settings: Settings,
) -> None:
    async with town(settings) as t:
        worker = t.as_("grid_worker", "grid-zhao")
        need_id = await t.claimed_need()
        await t.complete(need_id, 3)
        path = f"/v1/needs/{need_id}/completion/verification"
        elsewhere = t.as_("grid_worker", "grid-qian", "zhongshan.hongyan.xinhua")
        assert (await t.needs.post(path, headers=elsewhere, json={})).status_code == 404
        # a grid worker takes the hours as declared; only an admin corrects them
        corrected = {"hours": [{"volunteer_id": t.volunteer_id, "hours": 2}], "reason": "少了"}
        refused = await t.needs.post(path, headers=worker, json=corrected)
        assert refused.status_code == 403 and "管理员" in refused.text, refused.text
        verified = await t.needs.post(path, headers=worker, json={})
        assert verified.status_code == 200, verified.text
        completion = verified.json()["completion"]
        assert (completion["hours_status"], completion["verified_via"]) == (
            "verified",
            "grid_worker",
        )
        assert completion["verified_by"] == "grid-zhao"

        book = await t.passbook_when(1)
        assert (book["balance"], book["hours"]) == (30, 3.0)
        wang = {"name": "王阿姨", "phone": "138****5678"}
        history = await t.needs.get(f"/v1/needs/{need_id}/history", headers=t.admin)
        verify = next(h for h in history.json()["items"] if h["action"] == "verify")
        assert (verify["on_behalf_of"], verify["acted_by"], verify["role"]) == (
            wang,
            "grid-zhao",
            "grid_worker",
        )
        records = await read_topic(settings, settings.topics.needs, timeout=5)
        events = [e for e in events_of(records) if e.subject == need_id]
        hours = next(e for e in events if e.type == "org.tongxin.hours.verified")
        assert (hours.data["via"], hours.data["on_behalf_of"], hours.data["acted_by"]) == (
            "grid_worker",
            {**wang, "name": "王**"},  # the public stream masks her name
            "grid-zhao",
        )
        assert all("13812345678" not in e.model_dump_json() for e in events)


async def test_a_districts_rules_set_once_apply_in_needs_and_volunteers(settings: Settings) -> None:
    async with town(settings) as t:
        district_admin = t.as_("district_admin", "zs-admin", DISTRICT)
        rules = {"points_per_hour": 5, "volunteer_claim_cap": 1}
        put = await t.volunteers.put(
            f"/v1/orgs/{DISTRICT}/rules", json=rules, headers=district_admin
        )
        assert put.status_code == 200, put.text
        first = await t.claimed_need()

        async def capped() -> httpx.Response | None:
            body = {
                "community_id": COMMUNITY,
                "title": "帮忙取药",
                "category": "elderly_care",
                "slots": 1,
                "requester": {"name": "王阿姨", "phone": "13812345678"},
            }
            posted = await t.needs.post("/v1/needs", json=body, headers=t.resident)
            need_id = posted.json()["id"]
            await t.needs.post(f"/v1/needs/{need_id}/approve", headers=t.admin)
            r = await t.needs.post(
                f"/v1/needs/{need_id}/claims",
                headers=t.volunteer,
                json={"volunteer_id": t.volunteer_id},
            )
            return r if r.status_code == 409 else None

        refused = await eventually(capped, timeout=30)  # the needs service heard the rule
        assert "上限 1" in refused.json()["error"]["message"], refused.text

        await t.complete(first, 3)
        verified = await t.needs.post(
            f"/v1/needs/{first}/completion/verification", headers=t.admin, json={}
        )
        assert verified.status_code == 200, verified.text
        book = await t.passbook_when(1)
        assert (book["balance"], book["hours"]) == (15, 3.0)  # 5 points an hour there
