"""Operators' commands: `tongxin events tail|catalogue`, `tongxin dlq list|redrive`,
`tongxin healthcheck` (the container image's HEALTHCHECK)."""

from __future__ import annotations

import argparse
import asyncio
import sys
import urllib.request
from collections import Counter
from pathlib import Path

from shared.settings import SERVICE_PORTS, Settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    events = subparsers.add_parser(
        "events", help="the event stream: tail it, publish its catalogue"
    )
    events_sub = events.add_subparsers(dest="events_command", required=True)

    p = events_sub.add_parser("tail", help="print CloudEvents from the topics, filtered")
    p.add_argument(
        "--type",
        action="append",
        default=[],
        dest="types",
        help="event type or glob (org.tongxin.need.*); repeatable",
    )
    p.add_argument("--scope", help="only events whose community is in this org path")
    p.add_argument("--from-beginning", action="store_true", help="start at the oldest event")
    p.add_argument(
        "--topic",
        action="append",
        default=[],
        dest="topics",
        help="stream (needs, volunteers, notify, identity) or topic; repeatable (default: all)",
    )
    p.add_argument("--json", action="store_true", help="one CloudEvent JSON per line")
    p.add_argument("--max", type=int, help="stop after this many events")
    p.add_argument("--idle-exit", type=float, help="stop after this many quiet seconds")
    p.set_defaults(func=cmd_events_tail)

    p = events_sub.add_parser(
        "catalogue", help="write the AsyncAPI document and JSON Schemas of every event type"
    )
    p.add_argument("--out", default="docs/events", type=Path)
    p.add_argument("--check", action="store_true", help="write nothing; exit 1 if out of date")
    p.add_argument(
        "--accept-breaking",
        action="store_true",
        help="write even though a schema changed incompatibly (publish a new type instead!)",
    )
    p.set_defaults(func=cmd_events_catalogue)

    dlq = subparsers.add_parser("dlq", help="dead-lettered messages: list, redrive")
    dlq_sub = dlq.add_subparsers(dest="dlq_command", required=True)
    p = dlq_sub.add_parser("list", help="list the dead letters of every (or one) stream")
    p.add_argument("--topic", help="stream name (needs, volunteers, notify) or topic")
    p.set_defaults(func=cmd_dlq_list)
    p = dlq_sub.add_parser("redrive", help="send pending dead letters back to their topic")
    p.add_argument("--topic", help="stream name (needs, volunteers, notify) or topic")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    p.set_defaults(func=cmd_dlq_redrive)

    p = subparsers.add_parser("healthcheck", help="exit 0 if the service here answers /healthz")
    p.add_argument("--port", type=int, help="default: the port of this container's service")
    p.add_argument("--timeout", type=float, default=3.0)
    p.set_defaults(func=cmd_healthcheck)


# ---------------------------------------------------------------------------------------------
# events
# ---------------------------------------------------------------------------------------------


def _stream_topics(settings: Settings, names: list[str]) -> list[str]:
    if not names:
        return settings.topics.streams
    streams = ("needs", "volunteers", "notify", "identity")
    return [settings.topics.for_stream(n) if n in streams else n for n in names]


def cmd_events_tail(args: argparse.Namespace) -> int:
    from shared.ops.tail import EventFilter, tail

    settings = Settings()
    event_filter = EventFilter(types=tuple(args.types), scope=args.scope)

    def out(text: str) -> None:
        print(text, flush=True)

    try:
        asyncio.run(
            tail(
                settings,
                _stream_topics(settings, args.topics),
                event_filter,
                out,
                from_beginning=args.from_beginning,
                max_events=args.max,
                idle_timeout_s=args.idle_exit,
                as_json=args.json,
                color=sys.stdout.isatty() and not args.json,
            )
        )
    except KeyboardInterrupt:
        pass
    return 0


def cmd_events_catalogue(args: argparse.Namespace) -> int:
    from shared.events import catalogue
    from shared.events.compat import breaking_changes
    from shared.events.registry import all_schemas

    out: Path = args.out
    if args.check:
        problems = catalogue.drift(out)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{out} is out of date: run `tongxin events catalogue --out {out}`")
        return 1 if problems else 0
    breaking = breaking_changes(catalogue.committed_schemas(out), all_schemas())
    if breaking and not args.accept_breaking:
        print("不兼容的事件结构变更 / incompatible schema changes (consumers would break):")
        for change in breaking:
            print(f"  {change}")
        print("Add fields instead of changing them, or publish a new event type.")
        return 1
    changed = catalogue.write(out)
    for name in changed:
        print(f"wrote {out / name}")
    print(f"catalogue: {len(changed)} file(s) changed in {out}")
    return 0


# ---------------------------------------------------------------------------------------------
# dlq
# ---------------------------------------------------------------------------------------------


def cmd_dlq_list(args: argparse.Namespace) -> int:
    from shared.ops.dlq import dlq_topics, list_dead_letters, redrive_group

    settings = Settings()
    letters = asyncio.run(list_dead_letters(settings, dlq_topics(settings, args.topic)))
    for letter in letters:
        print(letter.describe())
    pending = sum(1 for d in letters if not d.redriven)
    print(
        f"{len(letters)} dead letter(s): {pending} pending, {len(letters) - pending} redriven "
        f"(redrive group {redrive_group(settings)})"
    )
    return 0


def _ask(question: str) -> bool:
    try:
        answer = input(question)
    except EOFError:
        return False
    return answer.strip().lower() in ("y", "yes", "是")


def cmd_dlq_redrive(args: argparse.Namespace) -> int:
    from shared.ops.dlq import DeadLetter, dlq_topics, redrive

    settings = Settings()
    declined = False

    def confirm(pending: list[DeadLetter]) -> bool:
        nonlocal declined
        print(f"{len(pending)} dead letter(s) to redrive:")
        for letter in pending:
            print(f"  {letter.describe()}")
        if args.yes:
            return True
        declined = not _ask(f"Redrive {len(pending)} message(s) to their original topics? [y/N] ")
        return not declined

    sent = asyncio.run(redrive(settings, dlq_topics(settings, args.topic), confirm))
    if declined:
        print("aborted: nothing redriven")
        return 1
    by_topic = Counter(letter.original_topic for letter in sent)
    summary = ", ".join(f"{topic}: {n}" for topic, n in sorted(by_topic.items()))
    print(f"redriven {len(sent)}" + (f" ({summary})" if summary else " (none pending)"))
    return 0


# ---------------------------------------------------------------------------------------------
# healthcheck
# ---------------------------------------------------------------------------------------------


def served_port(cmdline: list[str]) -> int | None:
    """The port a `tongxin serve <service> [--port N]` command line listens on."""
    if "serve" not in cmdline:
        return None
    rest = cmdline[cmdline.index("serve") + 1 :]
    for i, arg in enumerate(rest):
        if arg == "--port" and i + 1 < len(rest) and rest[i + 1].isdigit():
            return int(rest[i + 1])
        if arg.startswith("--port=") and arg[7:].isdigit():
            return int(arg[7:])
    for arg in rest:
        if arg in SERVICE_PORTS:
            return SERVICE_PORTS[arg]
    return None


def _pid1_cmdline() -> list[str]:
    try:
        raw = Path("/proc/1/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def cmd_healthcheck(args: argparse.Namespace) -> int:
    port = args.port or served_port(_pid1_cmdline())
    ports = [port] if port else list(SERVICE_PORTS.values())
    for candidate in ports:
        try:
            url = f"http://127.0.0.1:{candidate}/healthz"
            with urllib.request.urlopen(url, timeout=args.timeout) as resp:
                if resp.status == 200:
                    return 0
        except OSError:
            continue
    print(f"no healthy service on port(s) {', '.join(map(str, ports))}", file=sys.stderr)
    return 1
