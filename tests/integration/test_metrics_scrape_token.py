"""/metrics carries per-district business series: in the prod profile only the scrape token
reads it (issue 19: an unauthenticated GET /metrics showed every district's figures)."""

from __future__ import annotations

from services.metrics.app import create_app
from shared.settings import Settings
from tests.helpers import running
from tests.integration.test_metrics_scenario import caught_up, generate_district, publish

TOKEN = "scrape-token-0123456789abcdef"


async def test_unauthenticated_metrics_show_no_business_figures_in_prod(
    settings: Settings,
) -> None:
    prod = settings.model_copy(
        update={"profile": "prod", "jwt_secret": "p" * 40, "metrics_scrape_token": TOKEN}
    )
    d = generate_district(seed=3, needs_per_community=2)
    async with running(create_app(prod)) as client:
        await publish(prod, d.events)
        await caught_up(client, prod, d)
        for headers in ({}, {"Authorization": "Bearer wrong-token"}, {"Authorization": TOKEN}):
            resp = await client.get("/metrics", headers=headers)
            assert resp.status_code == 401, headers
            assert "tongxin_needs_posted_total" not in resp.text
            assert resp.json()["error"]["message"].startswith("需要抓取令牌")
        resp = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 200 and 'tongxin_needs_posted_total{district="' in resp.text

    no_token = prod.model_copy(update={"metrics_scrape_token": None})
    async with running(create_app(no_token)) as client:
        resp = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert resp.status_code == 401  # prod without a token configured: closed, not open
