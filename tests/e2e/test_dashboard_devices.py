"""The dashboard on a phone (390×844) and a desktop (1366×768) in Debian's Chromium: no
horizontal scroll, chart labels at least 12 px, the headline first (the rest folded on a
phone), a click on a count opens the list as long as the count, and the period survives a
reload. Screenshots go to var/screenshots/."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import httpx

from shared.settings import Settings
from tests.e2e.test_dashboard import SCREENSHOTS, chromium, figure, watch_errors
from tests.helpers import ServiceProcess, auth, token
from tests.integration.test_metrics_scenario import (
    DISTRICT,
    TZ,
    caught_up,
    generate_district,
    publish,
)

STREET = f"{DISTRICT}.hongyan"
COMMUNITY = f"{STREET}.dongfeng"
DEVICES = {"phone": (390, 844), "desktop": (1366, 768)}

# The smallest size, in CSS px, of any text drawn in the charts: the font size times the
# scale the SVG is drawn at (its width on screen over its viewBox width).
SMALLEST_CHART_TEXT = """() => {
  let smallest = Infinity, count = 0;
  for (const svg of document.querySelectorAll('#funnel, #trend, #categories')) {
    const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
    for (const t of svg.querySelectorAll('text')) {
      smallest = Math.min(smallest, parseFloat(getComputedStyle(t).fontSize) * scale);
      count++;
    }
  }
  return [smallest, count];
}"""
# Date labels on the trend's x axis must not overlap.
TREND_LABELS_APART = """() => {
  const boxes = [...document.querySelectorAll('#trend text')]
    .filter(t => /^\\d\\d-\\d\\d$/.test(t.textContent)).map(t => t.getBoundingClientRect());
  return boxes.length >= 2 && boxes.every((b, i) => i === 0 || b.left >= boxes[i - 1].right + 4);
}"""


async def test_the_dashboard_on_a_phone_and_a_desktop(settings: Settings, tmp_path: Path) -> None:
    today = datetime.now(TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    d = generate_district(seed=23, needs_per_community=5, day0=today - timedelta(days=40))
    service = ServiceProcess("metrics", settings, str(tmp_path / "metrics.log"))
    try:
        await service.wait_ready()
        await publish(settings, d.events)
        async with httpx.AsyncClient(base_url=service.url) as client:
            await caught_up(client, settings, d)
            last = today.date()
            thirty = {"from": (last - timedelta(days=29)).isoformat(), "to": last.isoformat()}
            r = await client.get(
                "/v1/stats",
                params={"scope": DISTRICT, **thirty},
                headers=auth(settings, "operator", DISTRICT),
            )
            last_30_days = r.json()
            r = await client.get(
                "/v1/stats",
                params={"scope": COMMUNITY},
                headers=auth(settings, "operator", DISTRICT),
            )
            community = r.json()
            month_end = today.date().replace(day=1) - timedelta(days=1)
            r = await client.get(
                "/v1/stats",
                params={
                    "scope": DISTRICT,
                    "from": month_end.replace(day=1).isoformat(),
                    "to": month_end.isoformat(),
                },
                headers=auth(settings, "operator", DISTRICT),
            )
            last_month = r.json()
            assert [u["scope"] for u in community["ancestors"]] == [DISTRICT, STREET]
        assert (
            last_30_days["tasks_completed"]
            != (await _all_time(service, settings))["tasks_completed"]
        )

        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        operator = token(settings, "operator", DISTRICT)
        async with chromium() as browser:
            for device, (width, height) in DEVICES.items():
                page = await browser.new_page()
                await page.set_viewport_size({"width": width, "height": height})
                errors = watch_errors(page)
                await page.goto(f"{service.url}/dashboard?token={operator}")
                await page.wait_for_selector("#figure-needs_posted")
                await page.wait_for_function(
                    "document.querySelectorAll('#trend polyline').length == 3"
                )

                no_scroll = "document.documentElement.scrollWidth <= window.innerWidth"
                assert await page.evaluate(no_scroll), device
                smallest, texts = await page.evaluate(SMALLEST_CHART_TEXT)
                assert texts > 20 and smallest >= 12, (device, smallest)
                assert await page.evaluate(TREND_LABELS_APART), device
                # the headline comes first; on a phone the other figures are folded
                first = await page.evaluate("document.querySelector('.card').dataset.figure")
                assert first == "needs_posted"
                folded = not await page.evaluate("document.getElementById('more').open")
                assert folded == (device == "phone")
                assert await page.locator("#figure-claims").is_visible() == (device != "phone")
                formula = await page.inner_text('[data-formula="pioneer_index"]')
                assert "参与志愿者数" in formula and "min(1" in formula
                # durations in the unit that fits them (165 s reads "2.8 分钟", not "0.0 小时")
                for name in ("median_time_to_claim_s", "median_time_to_complete_s"):
                    seconds = float(await figure(page, name) or "nan")
                    shown = await page.text_content(f"#figure-{name} .value") or ""
                    unit = "秒" if seconds < 60 else "分钟" if seconds < 3600 else "小时"
                    unit = unit if seconds < 86400 else "天"
                    assert shown.endswith(unit) and not shown.startswith("0.0"), (name, shown)
                await page.screenshot(
                    path=str(SCREENSHOTS / f"dashboard-{device}.png"), full_page=True
                )
                if device == "phone":  # and still readable on the narrowest phones
                    await page.set_viewport_size({"width": 360, "height": 740})
                    await page.wait_for_function(
                        "(s => s.viewBox.baseVal.width == Math.round(s.getBoundingClientRect()"
                        ".width))(document.getElementById('trend'))"
                    )
                    assert await page.evaluate(no_scroll)
                    smallest, _ = await page.evaluate(SMALLEST_CHART_TEXT)
                    assert smallest >= 12, smallest
                    assert await page.evaluate(TREND_LABELS_APART)
                    await page.set_viewport_size({"width": width, "height": height})
                else:  # the workbook downloads with the token, for the period shown
                    async with page.expect_download() as download_info:
                        await page.click("#export-xlsx")
                    download = await download_info.value
                    assert download.suggested_filename.endswith(".xlsx")
                    assert (await download.path()).stat().st_size > 5_000
                    # and last month's printable report opens in a new tab
                    async with browser.expect_page() as report_info:
                        await page.click("#monthly")
                    report = await report_info.value
                    await report.wait_for_selector("h1")
                    assert "月度报告" in await report.inner_text("h1")
                    assert await report.locator(".card").count() >= 10
                    shown = await report.inner_text('[data-figure="needs_posted"] .value')
                    assert shown == f"{last_month['needs_posted']:,}" and shown != "0"
                    await report.screenshot(path=str(SCREENSHOTS / "monthly-report.png"))
                    await report.close()

                # the period: chosen, kept in the address, and still there after a reload
                await page.select_option("#window", "30")
                await page.wait_for_function(
                    f"document.querySelector('#figure-tasks_completed').dataset.raw == "
                    f"'{last_30_days['tasks_completed']}'"
                )
                assert "period=30" in page.url
                await page.reload()
                await page.wait_for_selector("#figure-tasks_completed")
                assert await page.input_value("#window") == "30"
                await page.wait_for_function(
                    f"document.querySelector('#figure-tasks_completed').dataset.raw == "
                    f"'{last_30_days['tasks_completed']}'"
                )

                # a click on a count opens the list behind it, as long as the count
                for name in (
                    "tasks_completed",
                    "claimed_overdue",
                    "party_members_registered",
                    "teams",
                ):
                    if device == "phone" and name == "party_members_registered":
                        await page.click("#more > summary")  # unfold the rest
                    count = await figure(page, name)
                    assert count is not None and int(count) > 0, name
                    await page.click(f"#figure-{name} a.value")
                    await page.wait_for_selector("#list-view:not([hidden])")
                    await page.wait_for_function(
                        f"document.getElementById('list-count').dataset.total == '{count}'"
                    )
                    rows = await page.locator("#list-table tbody tr").count()
                    assert rows == int(count), (device, name)
                    assert "list=" + name in page.url and "period=30" in page.url
                    assert await page.evaluate(no_scroll), (device, name)
                    if name == "party_members_registered":
                        names = await page.locator(
                            "#list-table tbody td:first-child"
                        ).all_inner_texts()
                        assert names and all(n == "志**" for n in names)  # masked
                        await page.screenshot(
                            path=str(SCREENSHOTS / f"dashboard-list-{device}.png"), full_page=True
                        )
                    await page.click("#list-back")
                    await page.wait_for_selector("#dashboard-view:not([hidden])")
                # a category bar opens the needs of that category
                bar = page.locator("#categories a[data-list-category]").first
                slug = await bar.get_attribute("data-list-category")
                await bar.click()
                await page.wait_for_selector("#list-view:not([hidden])")
                want = last_30_days["by_category"][slug]["needs_posted"]
                await page.wait_for_function(
                    f"document.getElementById('list-count').dataset.total == '{want}'"
                )
                assert await page.locator("#list-table tbody tr").count() == want
                # a deep link names every unit in the breadcrumb (not raw codes)
                deep = await browser.new_page()
                await deep.set_viewport_size({"width": width, "height": height})
                await deep.goto(
                    f"{service.url}/dashboard?token={operator}#scope={COMMUNITY}&period=all"
                )
                await deep.wait_for_selector(f'#breadcrumb strong[data-scope="{COMMUNITY}"]')
                crumbs = await deep.locator("#breadcrumb [data-scope]").all_inner_texts()
                assert crumbs == [u["name"] for u in community["ancestors"]] + [community["name"]]
                await deep.close()
                assert errors == [], (device, errors)
                await page.close()
        for device in DEVICES:
            assert (SCREENSHOTS / f"dashboard-{device}.png").stat().st_size > 10_000
    finally:
        service.kill(15)


async def _all_time(service: ServiceProcess, settings: Settings) -> dict[str, int]:
    async with httpx.AsyncClient(base_url=service.url) as client:
        r = await client.get(
            "/v1/stats", params={"scope": DISTRICT}, headers=auth(settings, "operator", DISTRICT)
        )
        body: dict[str, int] = r.json()
        return body
