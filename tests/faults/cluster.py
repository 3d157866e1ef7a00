"""A private Kafka broker and FerretDB for fault tests, on ports of their own.

The nemesis kills and freezes these, never the shared infrastructure the other tests use, so
fault tests run beside the rest of the suite. They use the jars and the binary that
`deploy/local/infra.sh install` put under var/ (TONGXIN_VAR_DIR).
"""

from __future__ import annotations

import asyncio
import base64
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
VAR = Path(os.environ.get("TONGXIN_VAR_DIR", ROOT / "var"))
KAFKA_CP = f"{VAR}/kafka/libs/*:{VAR}/kafka/classes"
FERRETDB = VAR / "bin" / "ferretdb"
LOG4J = ROOT / "deploy" / "local" / "kafka" / "log4j2.properties"


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Component:
    """One process the nemesis can kill, pause, resume and restart."""

    name: str
    port: int
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    paused: bool = False
    restarts: int = 0
    command: list[str] = field(default_factory=list)

    def start(self) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command, stdout=log, stderr=log, start_new_session=True, cwd=self.log_path.parent
        )
        log.close()
        self.paused = False

    def signal(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)

    def kill(self) -> None:
        self.signal(signal.SIGKILL)
        if self.proc is not None:
            self.proc.wait(timeout=30)
        self.paused = False

    def pause(self) -> None:
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def stop(self) -> None:
        if self.paused:
            self.resume()
        self.signal(signal.SIGTERM)
        if self.proc is not None:
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()

    async def wait_ready(self, timeout: float = 90.0) -> float:
        """Seconds until the port answers (the process must stay alive meanwhile)."""
        started = time.monotonic()
        while not port_open(self.port):
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"{self.name} exited with {self.proc.returncode}")
            if time.monotonic() - started > timeout:
                raise AssertionError(f"{self.name} not ready within {timeout}s")
            await asyncio.sleep(0.2)
        return time.monotonic() - started


def ferretdb_component(directory: Path, port: int) -> Component:
    """A FerretDB (SQLite) of its own, its data under `directory`/ferretdb."""
    (directory / "ferretdb").mkdir()
    return Component(
        "ferretdb",
        port,
        directory / "ferretdb.log",
        command=[
            str(FERRETDB),
            "--handler=sqlite",
            f"--sqlite-url=file:{directory}/ferretdb/",
            f"--listen-addr=127.0.0.1:{port}",
            f"--state-dir={directory}/ferretdb",
            "--debug-addr=-",
            "--telemetry=disable",
            "--log-level=warn",
        ],
    )


# What every private broker has: one KRaft node, small and quick to start.
KAFKA_COMMON = [
    "process.roles=broker,controller",
    "node.id=1",
    "controller.listener.names=CONTROLLER",
    "offsets.topic.replication.factor=1",
    "offsets.topic.num.partitions=4",
    "transaction.state.log.replication.factor=1",
    "transaction.state.log.min.isr=1",
    "transaction.state.log.num.partitions=4",
    "share.coordinator.state.topic.replication.factor=1",
    "share.coordinator.state.topic.min.isr=1",
    "group.initial.rebalance.delay.ms=0",
    # A broker killed and started again registers anew only once the controller has fenced
    # its old incarnation (DUPLICATE_BROKER_REGISTRATION until then): 9 s by default.
    "broker.session.timeout.ms=2000",
    "broker.heartbeat.interval.ms=500",
    "auto.create.topics.enable=false",
    "num.network.threads=2",
    "num.io.threads=2",
]


def kafka_node(
    directory: Path,
    port: int,
    properties: list[str],
    scram: list[str] | None = None,
    jvm: tuple[str, ...] = (),
) -> Component:
    """A formatted one-node broker in `directory` (not started), listening on `port`:
    KAFKA_COMMON plus `properties` (listeners and security), SCRAM users (`--add-scram`
    arguments, e.g. `SCRAM-SHA-512=[name=admin,password=...]`) written at format time;
    `jvm`: more JVM options."""
    props = directory / "server.properties"
    lines = [*KAFKA_COMMON, *properties, f"log.dirs={directory / 'kafka-data'}"]
    props.write_text("\n".join(lines) + "\n")
    java = [
        "java",
        "-Xms128m",
        "-Xmx512m",
        "-XX:+UseSerialGC",
        "-XX:TieredStopAtLevel=1",  # a quick start (a third less) over peak speed
        *jvm,
        f"-Dlog4j2.configurationFile={LOG4J}",
        f"-Dkafka.logs.dir={directory}/kafka-logs",
        "-cp",
        KAFKA_CP,
    ]
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
    users = [arg for user in scram or [] for arg in ("--add-scram", user)]
    fmt = ["kafka.tools.StorageTool", "format", "--standalone", "-t", cluster_id, "-c", str(props)]
    subprocess.run(
        [*java, *fmt, *users],
        check=True,
        capture_output=True,
        timeout=120,
    )
    return Component(
        "kafka", port, directory / "kafka.log", command=[*java, "kafka.Kafka", str(props)]
    )


class PrivateCluster:
    """Kafka (one KRaft node) and FerretDB (SQLite) in a temporary directory."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tongxin-faults-"))
        kafka_port, controller_port, mongo_port = free_port(), free_port(), free_port()
        self.kafka_bootstrap = f"127.0.0.1:{kafka_port}"
        self.mongodb_url = f"mongodb://127.0.0.1:{mongo_port}/"
        self.kafka = kafka_node(
            self.dir,
            kafka_port,
            [
                f"controller.quorum.bootstrap.servers=127.0.0.1:{controller_port}",
                f"listeners=PLAINTEXT://127.0.0.1:{kafka_port},"
                f"CONTROLLER://127.0.0.1:{controller_port}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{kafka_port}",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            ],
        )
        self.ferretdb = ferretdb_component(self.dir, mongo_port)

    async def start(self) -> None:
        self.kafka.start()
        self.ferretdb.start()
        await self.ferretdb.wait_ready()
        await self.kafka.wait_ready()

    def stop(self) -> None:
        for component in (self.kafka, self.ferretdb):
            component.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
