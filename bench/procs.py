"""Processes under test: services and baselines pinned to one CPU, the load to another.

Each process is a real uvicorn (or Kafka client) process, so its peak RSS can be read from
/proc/<pid>/status (VmHWM) and nothing of the harness runs inside it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Literal

import httpx
from prometheus_client.parser import text_string_to_metric_families

from shared.settings import Settings
from tests.helpers import free_port, settings_env

Role = Literal["server", "load"]


def _cpus() -> list[int]:
    return sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []


_ALL_CPUS = _cpus()


def cpu_of(role: Role) -> int | None:
    """Servers on the first CPU, the load generator and the harness on the second."""
    if len(_ALL_CPUS) < 2:
        return None
    return _ALL_CPUS[0] if role == "server" else _ALL_CPUS[1]


def pin_prefix(role: Role) -> list[str]:
    cpu = cpu_of(role)
    if cpu is None or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(cpu)]


def pin_self_to_load_cpu() -> str:
    """Moves the harness (and the load it generates) off the servers' CPU."""
    cpu = cpu_of("load")
    if cpu is None:
        return "one CPU: nothing pinned"
    os.sched_setaffinity(0, {cpu})
    return f"servers on CPU {cpu_of('server')}, load generator and harness on CPU {cpu}"


def peak_rss_kib(pid: int) -> int | None:
    """VmHWM: the most resident memory the process has had so far."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time the process has used so far."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICKS
    except (OSError, IndexError, ValueError):
        return None


def pid_of(marker: str, also: str = "") -> int | None:
    """The first process with an argument ending in `marker` ("/ferretdb", "kafka.Kafka")
    and, if given, an argument ending in `also` (its listening address: other instances of
    the same program may run on the machine)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:
            continue
        if any(a.endswith(marker) for a in argv if a) and (
            not also or any(a.endswith(also) for a in argv if a)
        ):
            return int(entry.name)
    return None


def infrastructure_pids() -> dict[str, int | None]:
    """FerretDB (the one the settings' MongoDB URL names) and Kafka."""
    address = Settings().mongodb_url.split("://", 1)[-1].split("/", 1)[0].split(",")[0]
    return {
        "FerretDB": pid_of("/ferretdb", f"-listen-addr={address.rpartition('@')[2]}"),
        "Kafka": pid_of("kafka.Kafka"),
    }


class CpuWatch:
    """Share of one core each watched process used between start() and stop()."""

    def __init__(self, pids: dict[str, int | None]) -> None:
        self.pids = {name: pid for name, pid in pids.items() if pid}
        self._start: dict[str, float] = {}
        self._at = 0.0

    def start(self) -> None:
        self._at = time.monotonic()
        self._start = {n: c for n, p in self.pids.items() if (c := cpu_seconds(p)) is not None}

    def stop(self) -> dict[str, float]:
        wall = time.monotonic() - self._at
        shares = {}
        for name, before in self._start.items():
            after = cpu_seconds(self.pids[name])
            if after is not None and wall > 0:
                shares[name] = round((after - before) / wall, 3)
        return shares


class BenchProcess:
    """A child process pinned by role, logging to a file, stopped politely then firmly."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        env: dict[str, str],
        log_dir: Path,
        role: Role = "server",
    ) -> None:
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        log_dir.mkdir(parents=True, exist_ok=True)
        self._log: IO[bytes] = open(self.log_path, "ab")  # closed in stop()
        self.proc = subprocess.Popen(
            [*pin_prefix(role), *argv], env=env, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.peak_kib: int | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def sample_peak(self) -> int | None:
        value = peak_rss_kib(self.pid)
        if value is not None:
            self.peak_kib = max(self.peak_kib or 0, value)
        return self.peak_kib

    def stop(self, timeout: float = 25.0) -> int | None:
        """Stops the process; returns its peak RSS in KiB (read just before it ends)."""
        if self.alive():
            self.sample_peak()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._log.close()
        return self.peak_kib

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


class HttpProcess(BenchProcess):
    """A process serving HTTP on a free local port, with readiness and /metrics."""

    def __init__(
        self, name: str, argv_for_port: Sequence[str], env: dict[str, str], log_dir: Path
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(name, [*argv_for_port, "--port", str(self.port)], env, log_dir)
        self.http = httpx.AsyncClient(base_url=self.url, timeout=30)

    async def wait_ready(self, path: str = "/readyz", timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if not self.alive():
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}:\n{self.log_tail()}"
                )
            try:
                if (await self.http.get(path, timeout=2)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")
            await asyncio.sleep(0.3)

    async def metrics(self) -> list[tuple[str, dict[str, str], float]]:
        text = (await self.http.get("/metrics", timeout=10)).text
        return parse_metrics(text)

    async def close(self) -> int | None:
        await self.http.aclose()
        return self.stop()


def service_process(service: str, settings: Settings, log_dir: Path) -> HttpProcess:
    """One Tongxin service as `tongxin serve` runs it."""
    argv = [sys.executable, "-m", "shared.cli", "serve", service]
    return HttpProcess(service, argv, settings_env(settings), log_dir)


def parse_metrics(text: str) -> list[tuple[str, dict[str, str], float]]:
    """Prometheus text → (sample name, labels, value) triples."""
    return [
        (s.name, dict(s.labels), float(s.value))
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


def metric_sum(
    samples: Sequence[tuple[str, dict[str, str], float]],
    name: str,
    exclude: dict[str, set[str]] | None = None,
    **labels: str,
) -> float:
    """Sum of the samples named `name` whose labels match, leaving out `exclude`d values."""
    exclude = exclude or {}
    total = 0.0
    for sample, sample_labels, value in samples:
        if sample != name or any(sample_labels.get(k) != v for k, v in labels.items()):
            continue
        if any(sample_labels.get(k) in vals for k, vals in exclude.items()):
            continue
        total += value
    return total
