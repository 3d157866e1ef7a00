"""Prometheus and Grafana: the real /metrics output, the scrape and alert configuration and
the provisioned dashboards, each checked by the tool that will read it (Debian's promtool)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from services.metrics.app import create_app
from shared.settings import SERVICE_PORTS, Settings
from tests.helpers import running
from tests.integration.test_metrics_scenario import caught_up, generate_district, publish

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
GRAFANA = ROOT / "deploy" / "grafana"
# Series Prometheus and the blackbox exporter make themselves.
SCRAPE_SERIES = {"up", "probe_success"}


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is not installed: `make deps` installs Debian's prometheus")
    return subprocess.run(
        [tool, *args], input=stdin, capture_output=True, text=True, timeout=60, check=False
    )


def exposed_names(text: str) -> set[str]:
    """Every series name a scrape of this text can give, from its # TYPE lines."""
    names: set[str] = set()
    for match in re.finditer(r"^# TYPE (\S+) (\S+)$", text, re.MULTILINE):
        name, kind = match.groups()
        names.add(name)
        if kind == "histogram":
            names.update(f"{name}_{suffix}" for suffix in ("bucket", "sum", "count"))
    return names


async def test_metrics_output_passes_promtool_with_business_series_by_district_and_street(
    settings: Settings,
) -> None:
    d = generate_district(seed=2, needs_per_community=3)
    async with running(create_app(settings)) as client:
        before = (await client.get("/metrics")).text  # series are per process: compare deltas
        await publish(settings, d.events)
        await caught_up(client, settings, d)
        text = (await client.get("/metrics")).text

    checked = promtool("check", "metrics", stdin=text)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked

    families = {f.name: f for f in text_string_to_metric_families(text)}
    earlier = {f.name: f for f in text_string_to_metric_families(before)}

    def grown(name: str, suffix: str) -> float:
        def total(found: dict[str, Any]) -> float:
            family = found.get(name)
            samples = family.samples if family else []
            return sum(s.value for s in samples if s.name.endswith(suffix))

        return total(families) - total(earlier)

    assert grown("tongxin_needs_posted", "_total") == len(d.needs)
    filled = sum(1 for n in d.needs if any(c.filled for c in n.claims))
    assert grown("tongxin_time_to_claim_seconds", "_count") == filled
    posted = families["tongxin_needs_posted"].samples
    streets = {s.labels["street"] for s in posted if s.name.endswith("_total")}
    assert streets == {"zhongshan.hongyan", "zhongshan.qingxi", "zhongshan.baiyun"}
    allowed = {"district", "street", "claimant_type", "reason", "channel", "outcome", "le"}
    business = [f for f in families.values() if any("street" in s.labels for s in f.samples)]
    assert len(business) >= 15
    for family in business:
        for sample in family.samples:
            # bounded cardinality: district and street only, never a community path
            assert set(sample.labels) <= allowed, sample
            assert "." not in sample.labels["district"], sample
            assert sample.labels["street"].count(".") <= 1, sample
    assert "tongxin_consumer_lag_messages" in families
    handled = families["tongxin_consumer_events"].samples
    assert any(
        s.labels["service"] == "metrics" and s.labels["outcome"] == "handled" for s in handled
    )


def test_prometheus_configuration_and_alert_rules_pass_promtool(tmp_path: Path) -> None:
    # promtool wants the scrape token's file (a compose secret at run time) to exist.
    token = tmp_path / "tongxin_scrape_token"
    token.write_text("scrape-token-for-the-check")
    deployed = (PROMETHEUS / "prometheus.yml").read_text()
    assert "credentials_file: /run/secrets/tongxin_scrape_token" in deployed
    checked = tmp_path / "prometheus.yml"
    checked.write_text(deployed.replace("/run/secrets/tongxin_scrape_token", str(token)))
    (tmp_path / "alerts.yml").write_text((PROMETHEUS / "alerts.yml").read_text())
    for config in (checked, ROOT / "deploy" / "local" / "prometheus.yml"):
        result = promtool("check", "config", str(config))
        assert result.returncode == 0, result.stdout + result.stderr
    rules = promtool("check", "rules", str(PROMETHEUS / "alerts.yml"))
    assert rules.returncode == 0, rules.stdout + rules.stderr
    # each alert fires on the series the services expose (promtool's rule unit tests)
    fired = promtool("test", "rules", str(PROMETHEUS / "alerts_test.yml"))
    assert fired.returncode == 0, fired.stdout + fired.stderr

    alerts = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())
    exprs = {r["alert"]: r["expr"] for g in alerts["groups"] for r in g["rules"]}
    assert 'outcome="dead_lettered"' in exprs["TongxinDeadLetters"]
    assert "tongxin_consumer_lag_messages" in exprs["TongxinConsumerLagGrowing"]
    assert "tongxin_consumer_stalled" in exprs["TongxinConsumerStalled"]
    assert (
        "up{" in exprs["TongxinServiceDown"] and "probe_success" in exprs["TongxinServiceNotReady"]
    )

    def targets(path: Path, job: str) -> set[str]:
        config = yaml.safe_load(path.read_text())
        jobs = {j["job_name"]: j for j in config["scrape_configs"]}
        return {t for c in jobs[job]["static_configs"] for t in c["targets"]}

    assert targets(PROMETHEUS / "prometheus.yml", "tongxin") == {
        f"{name}:{port}" for name, port in SERVICE_PORTS.items()
    }
    assert targets(ROOT / "deploy" / "local" / "prometheus.yml", "tongxin") == {
        f"localhost:{port}" for port in SERVICE_PORTS.values()
    }


def dashboards() -> list[dict[str, Any]]:
    files = sorted((GRAFANA / "dashboards").glob("*.json"))
    assert len(files) >= 2
    return [json.loads(f.read_text()) for f in files]


async def test_grafana_dashboards_query_series_the_services_really_expose(
    settings: Settings, tmp_path: Path
) -> None:
    async with running(create_app(settings)) as client:
        exposed = exposed_names((await client.get("/metrics")).text) | SCRAPE_SERIES

    provisioning = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    uid = provisioning["datasources"][0]["uid"]
    provider = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "tongxin.yaml").read_text()
    )
    assert provider["providers"][0]["options"]["path"] == "/var/lib/grafana/dashboards"

    recording: list[dict[str, str]] = []
    uids = set()
    for board in dashboards():
        assert board["title"] and board["uid"] not in uids
        uids.add(board["uid"])
        assert board["panels"], board["uid"]
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == uid, panel["title"]
            assert {"x", "y", "w", "h"} <= set(panel["gridPos"])
            assert panel["targets"], panel["title"]
            for target in panel["targets"]:
                expr = target["expr"]
                names = set(re.findall(r"\b(tongxin_[a-z0-9_]+|up|probe_success)\b", expr))
                assert names, expr
                assert names <= exposed, f"{panel['title']}: {names - exposed}"
                concrete = expr.replace("$__range", "1h").replace("$district", ".*")
                recording.append(
                    {
                        "record": f"tongxin:check:{len(recording)}",
                        "expr": concrete.replace("$street", ".*"),
                    }
                )
    # promtool parses every panel's PromQL
    rules = tmp_path / "panels.yml"
    rules.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": recording}]}))
    parsed = promtool("check", "rules", str(rules))
    assert parsed.returncode == 0, parsed.stdout + parsed.stderr
