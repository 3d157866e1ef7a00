"""`make run` starts the five services; each answers /readyz 200."""

from __future__ import annotations

import random
import subprocess
import sys
from pathlib import Path

from shared.settings import Settings
from tests.helpers import settings_env


def test_tongxin_run_brings_up_all_five_services_ready(settings: Settings, tmp_path: Path) -> None:
    # Ports 18,000-32,000: below the ephemeral range (32768+) that other tests' free ports
    # and every outgoing connection draw from, so nothing else can be holding them.
    offset = random.randrange(10_000, 24_000, 10)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "shared.cli",
            "run",
            "--once",
            "--wait",
            "120",
            "--port-offset",
            str(offset),
            "--log-dir",
            str(tmp_path),
        ],
        env=settings_env(settings),
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    ready = [line for line in result.stdout.splitlines() if line.startswith("✓")]
    assert len(ready) == 5
    ports = {"needs": 8001, "volunteers": 8002, "notify": 8003, "metrics": 8004, "identity": 8005}
    for name, port in ports.items():
        assert any(name in line and f":{port + offset}" in line for line in ready), ready
    assert "All services up" in result.stdout
    # The gateway's address comes first: that is where a person starts (README, "Start here").
    first = result.stdout.splitlines()[0]
    assert first.startswith(f"同心 Tongxin: open {settings.gateway_url}/"), first
    assert all((tmp_path / f"{n}.log").stat().st_size > 0 for n in ("needs", "metrics"))
