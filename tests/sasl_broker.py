"""A private Kafka 4 broker run the way production runs it (issue 19): a SASL_PLAINTEXT
listener with SCRAM-SHA-512 users written at format time, the StandardAuthorizer, no access
without an ACL, and `admin` its only super user (besides the in-process controller link).

It uses its own ports and directory, so tests with it run beside the rest of the suite.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from shared.kafka.acls import PRODUCES
from shared.settings import Settings
from tests.faults.cluster import kafka_node
from tests.helpers import free_port, isolated_settings

MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"
# The services' users and two subscribers: `portal` of district d1, `bank` of every stream.
SUBSCRIBERS = ["portal", "bank"]
USERS = [ADMIN, *PRODUCES, *SUBSCRIBERS]


def password(user: str) -> str:
    return f"{user}-test-password"


class SaslBroker:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="tongxin-sasl-"))
        port, controller = free_port(), free_port()
        self.bootstrap = f"127.0.0.1:{port}"
        jaas = (
            "org.apache.kafka.common.security.scram.ScramLoginModule required "
            f'username="{ADMIN}" password="{password(ADMIN)}";'
        )
        self.kafka = kafka_node(
            self.dir,
            port,
            [
                f"controller.quorum.bootstrap.servers=127.0.0.1:{controller}",
                f"listeners=SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=SASL_PLAINTEXT://127.0.0.1:{port}",
                "inter.broker.listener.name=SASL_PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
                f"sasl.enabled.mechanisms={MECHANISM}",
                f"sasl.mechanism.inter.broker.protocol={MECHANISM}",
                f"listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config={jaas}",
                "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
                "allow.everyone.if.no.acl.found=false",
                # The controller listener is loopback-only, inside the broker's own process.
                f"super.users=User:{ADMIN};User:ANONYMOUS",
            ],
            scram=[f"{MECHANISM}=[name={u},password={password(u)}]" for u in USERS],
            jvm=("-XX:TieredStopAtLevel=1",),  # starts sooner; a test broker needs no C2
        )
        # One namespace and group prefix for every user of this broker.
        tag = isolated_settings().topic_namespace
        self.common: dict[str, Any] = {
            "kafka_bootstrap": self.bootstrap,
            "topic_namespace": tag,
            "consumer_group_prefix": tag,
            "mongodb_database_prefix": tag,
            "kafka_timeout_s": 5.0,
        }

    def settings(self, user: str | None, secret: str | None = None, **overrides: Any) -> Settings:
        """Settings of one user (None: a client without credentials, PLAINTEXT)."""
        if user is None:
            return isolated_settings(**self.common, **overrides)
        return isolated_settings(
            **self.common,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_username=user,
            kafka_password=SecretStr(secret or password(user)),
            **overrides,
        )

    async def start(self) -> None:
        self.kafka.start()
        await self.kafka.wait_ready()

    def stop(self) -> None:
        self.kafka.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
