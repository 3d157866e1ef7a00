"""The nemesis: on a schedule from a seed, one fault at a time while the clients run.

Kinds: `kill` (SIGKILL, down for `fault_s`, started again), `pause` (SIGSTOP for `fault_s`,
then SIGCONT), `restart` (SIGTERM, a graceful stop, started again at once) on the broker,
FerretDB and every service; `relay` and `consumer` cancel that loop inside a service (the
test-only hook, TONGXIN_FAULT_HOOKS), so the service's supervisor must start it again.
Recovery is the time from the fault's end until every service answers /readyz 200.
"""

from __future__ import annotations

import asyncio
import random
import signal
import time
from collections.abc import Sequence
from typing import Protocol

import httpx

from shared.settings import Settings
from tests.faults.cluster import Component
from tests.faults.workload import History
from tests.helpers import ServiceProcess, eventually

PROCESS_KINDS = ("kill", "pause", "restart")
TASK_KINDS = ("relay", "consumer")
FAULT_KINDS = PROCESS_KINDS + TASK_KINDS


class Target(Protocol):
    name: str

    def kill(self) -> None: ...
    def start(self) -> None: ...
    def pause(self) -> None: ...
    def resume(self) -> None: ...
    def stop(self) -> None: ...


class Service:
    """A service process the nemesis can kill, pause and restart (a new process each start,
    on a new port: clients ask `url` each time)."""

    def __init__(self, name: str, settings: Settings, log_dir: str, module: str) -> None:
        self.name = name
        self._settings = settings
        self._log = f"{log_dir}/{name}.log"
        self._module = module
        self.proc: ServiceProcess | None = None
        self.start()

    @property
    def url(self) -> str:
        assert self.proc is not None
        return self.proc.url

    def start(self) -> None:
        self.proc = ServiceProcess(self.name, self._settings, self._log, self._module)

    def _signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.proc.poll() is None:
            self.proc.proc.send_signal(sig)

    def kill(self) -> None:
        if self.proc is not None:
            self.resume()
            self.proc.kill(signal.SIGKILL)

    def pause(self) -> None:
        self._signal(signal.SIGSTOP)

    def resume(self) -> None:
        self._signal(signal.SIGCONT)

    def stop(self) -> None:
        """SIGTERM: uvicorn stops gracefully (the relay's last pass, the consumer's commit)."""
        if self.proc is not None:
            self.resume()
            try:
                self.proc.kill(signal.SIGTERM)
            except Exception:  # did not stop within 30 s
                self.proc.kill(signal.SIGKILL)

    async def wait_ready(self, timeout: float = 120.0) -> tuple[float, str]:
        """Seconds until /readyz answers 200, and the last reason it gave before."""
        started = time.monotonic()
        last = ""
        async with httpx.AsyncClient() as c:
            while True:
                assert self.proc is not None
                if self.proc.proc.poll() is not None:
                    raise AssertionError(f"{self.name} exited with {self.proc.proc.returncode}")
                try:
                    r = await c.get(self.url + "/readyz", timeout=5)
                    if r.status_code == 200:
                        return time.monotonic() - started, last
                    last = r.text[:300]
                except httpx.HTTPError as exc:
                    last = type(exc).__name__
                if time.monotonic() - started > timeout:  # counted, and the run goes on
                    return time.monotonic() - started, f"NOT READY: {last}"
                await asyncio.sleep(0.3)


async def all_ready(
    services: Sequence[Service], timeout: float = 180.0, history: History | None = None
) -> float:
    """Seconds until every service is ready; a slow one is noted with its last reason."""
    took = await asyncio.gather(*(s.wait_ready(timeout) for s in services))
    slowest, (seconds, reason) = max(zip(services, took, strict=True), key=lambda x: x[1][0])
    if history is not None and seconds > 10:
        history.note(f"nemesis: slowest {slowest.name} {seconds:.1f} s, last said {reason}")
    return seconds


def schedule(
    rng: random.Random, per_kind: int, processes: Sequence[str], services: Sequence[str]
) -> list[tuple[str, str]]:
    """`per_kind` faults of each kind, their targets taken in turn, the whole shuffled."""
    plan: list[tuple[str, str]] = []
    for kind in FAULT_KINDS:
        targets = list(processes if kind in PROCESS_KINDS else services)
        rng.shuffle(targets)
        plan += [(kind, targets[i % len(targets)]) for i in range(per_kind)]
    rng.shuffle(plan)
    return plan


async def cancel_task(service: Service, task: str) -> None:
    async def cancelled() -> bool:
        try:
            async with httpx.AsyncClient() as c:
                r = await c.post(f"{service.url}/internal/faults/{task}", timeout=5)
        except httpx.HTTPError:
            return False
        assert r.status_code == 202, r.text  # the hook must exist in the faults suite
        return True

    await eventually(cancelled, timeout=60, interval=0.5)


async def inject(kind: str, target: Component | Service, fault_s: float) -> None:
    if kind == "pause":
        target.pause()
        await asyncio.sleep(fault_s)
        target.resume()
    elif kind == "kill":
        target.kill()
        await asyncio.sleep(fault_s)
        target.start()
    elif kind == "restart":
        await asyncio.to_thread(target.stop)
        target.start()
    else:
        assert isinstance(target, Service)
        await cancel_task(target, kind)


async def nemesis(
    plan: Sequence[tuple[str, str]],
    targets: dict[str, Component | Service],
    services: Sequence[Service],
    history: History,
    interval_s: float,
    fault_s: float,
) -> None:
    for kind, name in plan:
        await asyncio.sleep(interval_s)
        history.note(f"nemesis: {kind} {name}")
        await inject(kind, targets[name], fault_s)
        key = f"{kind} {name}"
        history.faults[key] += 1
        took = await all_ready(services, history=history)
        history.recoveries[key] = max(history.recoveries.get(key, 0.0), took)
        history.note(f"nemesis: all ready {took:.1f} s after {key}")
    await asyncio.sleep(interval_s)  # load goes on after the last recovery
