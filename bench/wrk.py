"""The HTTP load generator: wrk (Debian's package), pinned away from the server."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.procs import pin_prefix

LUA_DIR = Path(__file__).parent / "wrk"

_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


@dataclass(frozen=True)
class WrkResult:
    requests: int
    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    non_2xx: int
    socket_errors: int

    @property
    def error_share(self) -> float:
        return (self.non_2xx + self.socket_errors) / self.requests if self.requests else 1.0


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(output: str) -> WrkResult:
    """Reads `wrk --latency` output: requests, req/s, p50, p99, errors."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise ValueError(f"no Requests/sec in wrk output:\n{output}")
    total = re.search(r"(\d+) requests in", output)
    percent: dict[str, float] = {}
    for p, value, unit in re.findall(r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.M):
        percent[p] = _ms(value, unit)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(total.group(1)) if total else 0,
        requests_per_s=float(rps.group(1)),
        p50_ms=percent.get("50"),
        p99_ms=percent.get("99"),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in sock.groups()) if sock else 0,
    )


def ensure_wrk() -> str:
    """The wrk binary; installed from Debian's packages when missing and we are root."""
    found = shutil.which("wrk")
    if found:
        return found
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "wrk"],
        check=False,
        capture_output=True,
    )
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk not found: run `bash deploy/local/infra.sh install` (as root)")
    return found


async def run_wrk(
    url: str,
    script: str,
    script_args: list[str],
    *,
    duration_s: float,
    connections: int,
    threads: int = 1,
) -> WrkResult:
    argv = [
        *pin_prefix("load"),
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(duration_s))}s",
        "--timeout",
        "10s",
        "--latency",
        "-s",
        str(LUA_DIR / script),
        url,
        "--",
        *script_args,
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await asyncio.wait_for(proc.communicate(), duration_s + 60)
    return parse_wrk(out.decode(errors="replace"))
