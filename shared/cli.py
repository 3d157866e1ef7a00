"""The `tongxin` command: dev tokens, serving one service, running the whole platform.

Service-specific subcommands live beside their service and are listed in COMMAND_MODULES;
each such module has `register(subparsers)`.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

from shared.auth import ROLES, mint_token
from shared.settings import SERVICE_PORTS, Settings

COMMAND_MODULES: list[str] = [
    "shared.ops.cli",
    "shared.ops.kafka_cli",
    "services.metrics.cli",
    "services.volunteers.cli",
    "services.identity.cli",
]

Command = Callable[[argparse.Namespace], int]


def cmd_token(args: argparse.Namespace) -> int:
    """Signed with the key the identity service publishes (dev: made under var/ on first
    use); outside dev only with TONGXIN_JWT_KEYS_DIR, the private key files."""
    from datetime import timedelta

    from shared.signing import NoSigningKey

    sub = args.sub or f"{args.role}-dev"
    try:
        token = mint_token(
            Settings(), args.role, args.scope, sub, ttl=timedelta(minutes=args.minutes)
        )
    except NoSigningKey as exc:
        print(f"✗ {exc}", file=sys.stderr)
        return 2
    print(f"# role={args.role} scope={args.scope} sub={sub} ({args.minutes} min)")
    print(token)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = Settings()
    from shared.logging import configure_logging

    configure_logging(settings.log_level, settings.log_format, args.service)
    uvicorn.run(
        f"services.{args.service}.app:create_app",
        factory=True,
        host=args.host,
        port=args.port or SERVICE_PORTS[args.service],
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
    )
    return 0


def _ready(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def cmd_run(args: argparse.Namespace) -> int:
    """Starts the five services, waits until each is ready, stops them all on Ctrl-C."""
    procs: dict[str, subprocess.Popen[bytes]] = {}
    gateway = Settings().gateway_url
    print(f"同心 Tongxin: open {gateway}/  (console /console/, dashboard /dashboard)")
    print("  sign in with any phone; in development the SMS code is in var/log/sms.jsonl")
    log_dir = args.log_dir
    os.makedirs(log_dir, exist_ok=True)
    ports = {name: port + args.port_offset for name, port in SERVICE_PORTS.items()}
    # Unless told otherwise, every service trusts the identity service started here.
    identity = f"http://127.0.0.1:{ports['identity']}"
    env = dict(os.environ)
    env.setdefault("TONGXIN_JWT_ISSUER", identity)
    env.setdefault("TONGXIN_JWKS_URL", f"{identity}/.well-known/jwks.json")
    for name, port in ports.items():
        log = open(os.path.join(log_dir, f"{name}.log"), "ab")
        procs[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "shared.cli",
                "serve",
                name,
                "--host",
                args.host,
                "--port",
                str(port),
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
        )
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    deadline = time.monotonic() + args.wait
    pending = dict(ports)
    while pending and not stopping and time.monotonic() < deadline:
        for name, port in list(pending.items()):
            if procs[name].poll() is not None:
                print(f"✗ {name} exited with {procs[name].returncode}; see {log_dir}/{name}.log")
                stopping = True
            elif _ready(port):
                print(f"✓ {name:<10} http://127.0.0.1:{port}  (docs /docs, ready /readyz)")
                del pending[name]
        time.sleep(0.3)
    if pending and not stopping:
        print(f"✗ not ready after {args.wait}s: {', '.join(pending)}; logs in {log_dir}/")
        stopping = True
    if not stopping:
        print(f"Dashboard 看板: {gateway}/dashboard")
        sms_log = os.path.join(env.get("TONGXIN_VAR_DIR", "var"), "log", "sms.jsonl")
        print(f"Sign in 登录: {gateway}/ with any phone; the code is in {sms_log}")
        print(f"All services up; logs in {log_dir}/. Ctrl-C stops them.")
        if args.once:
            stopping = True
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"✗ {name} exited with {proc.returncode}; see {log_dir}/{name}.log")
                stopping = True
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for name, proc in procs.items():
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        print(f"stopped {name}")
    return 0 if not pending else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tongxin", description="同心 Tongxin platform tools")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("token", help="mint an EdDSA access token with the identity signing key")
    p.add_argument("--role", required=True, choices=ROLES)
    p.add_argument("--scope", required=True, help="org path, e.g. zhongshan.hongyan.dongfeng")
    p.add_argument("--sub", help="user or volunteer id (default: <role>-dev)")
    p.add_argument("--minutes", type=int, default=15, choices=range(1, 721), metavar="1..720")
    p.set_defaults(func=cmd_token)

    p = sub.add_parser("serve", help="serve one service with uvicorn")
    p.add_argument("service", choices=sorted(SERVICE_PORTS))
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("run", help="run all five services until Ctrl-C")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--wait", type=float, default=90.0, help="seconds to wait for readiness")
    p.add_argument("--log-dir", default="var/log")
    p.add_argument("--port-offset", type=int, default=0, help="added to every default port")
    p.add_argument("--once", action="store_true", help="stop again as soon as all are ready")
    p.set_defaults(func=cmd_run)

    for module in COMMAND_MODULES:
        importlib.import_module(module).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    func: Command = args.func
    return func(args)


if __name__ == "__main__":
    sys.exit(main())
