"""A newcomer starts at the gateway: the README's first steps are `make run` and the address
of the apps, with where the development SMS code is found."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_readme_starts_a_newcomer_at_the_gateway_with_the_sms_code() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", readme, flags=re.M)
    start = sections[1]
    assert start.startswith("Start here"), "the README's first section is not 'Start here'"
    assert "make run" in start
    url = Settings.model_validate({}).gateway_url
    said = re.sub(r"\s+", " ", start)
    assert f"open {url}/, sign in with any phone; in development the code is in" in said
    assert "var/log/sms.jsonl" in start
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    run = re.search(r"^run:.*\n((?:\t.*\n)+)", makefile, re.M)
    assert run and "up prometheus gateway" in run.group(1)  # the gateway starts with make run


def test_make_run_prints_the_gateway_address_first() -> None:
    """`make run`'s first line is where to open the apps (a dry run: nothing is started)."""
    out = subprocess.run(
        ["make", "-n", "--no-print-directory", "run"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": "/usr/bin:/bin"},
    ).stdout
    url = Settings.model_validate({}).gateway_url
    assert out.splitlines()[0].startswith("echo"), out[:300]
    assert f"open {url}/ " in out.splitlines()[0]
