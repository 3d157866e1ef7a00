"""The operators' dashboard in a real headless Chromium, served over real HTTP by uvicorn.

Debian's /usr/bin/chromium is driven by Playwright (`executable_path`, never a downloaded
browser); `deploy/local/infra.sh install` installs it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.async_api import BrowserContext, Page, async_playwright

from shared.settings import Settings
from tests.helpers import ServiceProcess, auth, eventually, token
from tests.integration.test_metrics_scenario import (
    DISTRICT,
    TZ,
    caught_up,
    generate_district,
    publish,
)

CHROMIUM = "/usr/bin/chromium"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[BrowserContext]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("Debian's chromium is not installed: `make deps` installs it")
    profile = tempfile.mkdtemp(prefix="tongxin-chromium-")
    try:
        async with async_playwright() as pw:
            context = await pw.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                headless=True,
                args=LAUNCH_ARGS,
                viewport={"width": 1280, "height": 1400},
                locale="zh-CN",
            )
            try:
                yield context
            finally:
                await context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def watch_errors(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url}"))
    return errors


async def figure(page: Page, name: str) -> str | None:
    return await page.get_attribute(f"#figure-{name}", "data-raw")


async def stats(client: httpx.AsyncClient, settings: Settings, scope: str) -> dict[str, Any]:
    r = await client.get(
        "/v1/stats", params={"scope": scope}, headers=auth(settings, "operator", DISTRICT)
    )
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def test_dashboard_shows_the_district_drills_down_to_a_community_and_switches_language(
    settings: Settings, tmp_path: Path
) -> None:
    today = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    d = generate_district(seed=21, needs_per_community=6, day0=today - timedelta(days=19))
    service = ServiceProcess("metrics", settings, str(tmp_path / "metrics.log"))
    try:
        await service.wait_ready()
        await publish(settings, d.events)
        async with httpx.AsyncClient(base_url=service.url) as client:
            await caught_up(client, settings, d)
            district = await stats(client, settings, DISTRICT)
            street = district["children"][0]
            street_stats = await stats(client, settings, street["scope"])
            community = street_stats["children"][0]

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        async with chromium() as browser:
            page = await browser.new_page()
            errors = watch_errors(page)
            operator = token(settings, "operator", DISTRICT)
            await page.goto(f"{service.url}/dashboard?token={operator}")

            # the district's figures, as the stats API gives them
            await page.wait_for_selector("#figure-needs_posted")
            for name in (
                "needs_posted",
                "needs_claimed",
                "tasks_completed",
                "volunteers_registered",
            ):
                assert await figure(page, name) == str(district[name]), name
            assert await page.inner_text("#figure-needs_posted .value") == str(
                district["needs_posted"]
            )
            assert "token=" not in page.url  # kept in sessionStorage, not in the address
            assert (await page.inner_text("#scope-title")).startswith("中山区")
            assert await page.locator("#funnel rect").count() == 5
            assert await page.locator("#trend polyline").count() == 3
            assert await page.locator("#ranking tbody tr").count() == 12
            category = page.locator("#categories text[data-category]").first
            first_category = await category.text_content()
            assert first_category and not first_category.isascii()  # Chinese category names
            await page.screenshot(path=str(SCREENSHOTS / "dashboard-district.png"), full_page=True)

            # drill down: district → street → community
            await page.click(f'#tree li[data-scope="{street["scope"]}"]')
            await page.wait_for_selector(f'#breadcrumb strong[data-scope="{street["scope"]}"]')
            await page.click(f'#tree li[data-scope="{community["scope"]}"]')
            await page.wait_for_selector(f'#breadcrumb strong[data-scope="{community["scope"]}"]')

            async def community_shown() -> bool:
                return await figure(page, "needs_posted") == str(community["needs_posted"])

            await eventually(community_shown, timeout=10)
            assert await figure(page, "tasks_completed") == str(community["tasks_completed"])
            assert await figure(page, "pioneer_index") == str(community["pioneer_index"])

            # switch language
            await page.click("#lang")
            assert await page.inner_text("#title") == "Tongxin dashboard"
            assert await page.inner_text("#figure-needs_posted .label") == "Needs posted"
            assert await page.inner_text("#lang") == "中文"
            await page.screenshot(
                path=str(SCREENSHOTS / "dashboard-community-en.png"), full_page=True
            )
            await page.click("#lang")
            assert await page.inner_text("#title") == "同心·数据看板"

            # without a token: a clear message instead of figures
            blank = await browser.new_page()
            blank_errors = watch_errors(blank)
            await blank.goto(f"{service.url}/dashboard")
            await blank.wait_for_selector('#notice[data-notice="missing_token"]')
            assert "?token=" in await blank.inner_text("#notice")
            assert await blank.locator("#main").is_hidden()

            assert errors == [] and blank_errors == []
        assert (SCREENSHOTS / "dashboard-district.png").stat().st_size > 10_000
    finally:
        service.kill(15)
