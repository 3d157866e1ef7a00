"""`tongxin metrics rebuild`: replay the event log into a fresh projection and switch to it."""

from __future__ import annotations

import argparse
import asyncio
import sys

from services.metrics.handlers.rebuild import RebuildBusy, rebuild
from shared.settings import Settings


def cmd_rebuild(_: argparse.Namespace) -> int:
    try:
        report = asyncio.run(rebuild(Settings(), out=sys.stderr))
    except RebuildBusy as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 3
    print(
        f"✓ generation {report.generation} active (previous {report.previous}): "
        f"{report.events} events → {report.facts} facts, {report.skipped} unreadable, "
        f"in {report.seconds:.1f}s"
    )
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    metrics = sub.add_parser("metrics", help="metrics projection tools")
    commands = metrics.add_subparsers(dest="metrics_command", required=True)
    p = commands.add_parser(
        "rebuild",
        help="replay every topic from the beginning into a fresh projection, then switch to it",
    )
    p.set_defaults(func=cmd_rebuild)
