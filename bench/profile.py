"""Sampling profiles of a service under load (`--profile`): py-spy attached to the process
during one extra, unmeasured round, summarised as the functions that hold the most samples.
Only samples on CPU count (no --idle): a process that mostly waits for FerretDB shows few.

py-spy is not a dependency: `.venv/bin/pip install py-spy` when you want profiles.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench.procs import pin_prefix

RATE_HZ = 100
_OURS = re.compile(r"[(/](shared|services)/")


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


@dataclass
class Summary:
    name: str
    samples: int
    self_top: list[tuple[str, int]]
    inclusive_top: list[tuple[str, int]]
    seconds: float = 0.0

    def render(self, rows: int = 15) -> str:
        def pct(n: int) -> str:
            return f"{100 * n / self.samples:5.1f}%" if self.samples else "  —  "

        busy = ""
        if self.seconds:
            share = self.samples / (self.seconds * RATE_HZ)
            busy = f", {self.seconds:.0f} s: on CPU {share:.0%} of the time"
        lines = [f"### {self.name} ({self.samples} samples{busy})", "", "self time:", "```"]
        lines += [f"{pct(n)}  {frame}" for frame, n in self.self_top[:rows]]
        lines += ["```", "", "inclusive, frames of our code (shared/, services/):", "```"]
        lines += [f"{pct(n)}  {frame}" for frame, n in self.inclusive_top[:rows]]
        lines.append("```")
        return "\n".join(lines)


def summarise(name: str, collapsed: str) -> Summary:
    """Reads py-spy's raw (collapsed stack) output: `frame;frame;frame count` per line."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        self_time[frames[-1]] += n
        for frame in set(frames):
            if _OURS.search(frame):
                inclusive[frame] += n
    return Summary(name, total, self_time.most_common(), inclusive.most_common())


class Profiler:
    """py-spy recording one process until stopped."""

    def __init__(self, pid: int, out: Path) -> None:
        self.out = out
        self.started = time.monotonic()
        self.proc: subprocess.Popen[bytes] | None = None
        binary = py_spy()
        if binary is None:
            return
        argv = [binary, "record", "-p", str(pid), "-r", str(RATE_HZ), "-f", "raw", "-o", str(out)]
        self.proc = subprocess.Popen(
            [*pin_prefix("load"), *argv, "--nonblocking"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def stop(self, name: str) -> Summary | None:
        if self.proc is None:
            return None
        self.proc.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
        try:
            await asyncio.to_thread(self.proc.wait, 30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        seconds = time.monotonic() - self.started
        collapsed = await asyncio.to_thread(_read, self.out)
        if collapsed is None:
            return None
        summary = summarise(name, collapsed)
        summary.seconds = seconds
        return summary


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return None
