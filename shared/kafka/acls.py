"""Who may do what on the broker (issue 19), in one table, and its application.

Each service signs in as its own SCRAM user (the service's name) and may write its own stream
only; a consumer reads what it consumes, commits in its own group and writes the `.dlq` twin
of what it consumes (dead letters). notify also writes its own `.dlq` (failed deliveries) and
runs the district router (services/notify/handlers/district_router.py): it reads the public streams
and fills `<ns>.d.<district>.v1` in transactions of its own transactional id. Subscribers
read, never write: a district subscriber reads its districts' topics, a stream subscriber the
four public streams. The admin (a super user of the broker) creates topics and these ACLs
(`tongxin kafka setup`, `tongxin kafka grant-subscriber`).

aiokafka has no CreateAcls call: `apply` sends the protocol request (CreateAcls v1+) itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.protocol.admin import CreateAclsRequest

from shared.kafka.connection import client_options
from shared.kafka.topics import ensure_topics
from shared.settings import Settings

Resource = Literal["topic", "group", "transactional_id"]
Pattern = Literal["literal", "prefixed"]
Operation = Literal["read", "write", "create", "describe"]

# Kafka's wire codes (org.apache.kafka.common.resource / acl).
RESOURCE_CODES = {"topic": 2, "group": 3, "transactional_id": 5}
PATTERN_CODES = {"literal": 3, "prefixed": 4}
OPERATION_CODES = {"read": 3, "write": 4, "create": 5, "describe": 8}
ALLOW = 3

# What each service's consumer reads: the STREAMS of its handlers/events.py
# (tests/unit/test_kafka_acls.py keeps the two equal) and what it publishes (its outbox's).
CONSUMES: dict[str, list[str]] = {
    "needs": ["volunteers"],
    "volunteers": ["needs"],
    "notify": ["needs", "volunteers"],
    "metrics": ["needs", "volunteers", "notify"],
    "identity": ["volunteers"],
}
PRODUCES: dict[str, list[str]] = {
    "needs": ["needs"],
    "volunteers": ["volunteers"],
    "notify": ["notify"],
    "metrics": [],
    "identity": ["identity"],
}
# The public streams: what stream subscribers read and the district router routes.
PUBLIC_STREAMS = ["needs", "volunteers", "notify", "identity"]
ROUTER_OWNER = "notify"


@dataclass(frozen=True)
class Acl:
    principal: str  # a SCRAM user name (Kafka principal User:<name>)
    resource: Resource
    name: str
    pattern: Pattern
    operation: Operation

    def describe(self) -> str:
        return (
            f"User:{self.principal} {self.operation.upper()} "
            f"{self.resource}:{self.name}{'*' if self.pattern == 'prefixed' else ''}"
        )


def service_acls(settings: Settings, service: str) -> list[Acl]:
    """The ACLs of one service's user (the user is named like the service)."""
    topics = settings.topics

    def topic(name: str, operation: Operation) -> Acl:
        return Acl(service, "topic", name, "literal", operation)

    acls = [topic(topics.for_stream(s), "write") for s in PRODUCES[service]]
    for stream in CONSUMES[service]:
        acls += [topic(topics.for_stream(stream), "read"), topic(topics.dlq_of(stream), "write")]
    acls.append(Acl(service, "group", settings.consumer_group(service), "literal", "read"))
    if service == ROUTER_OWNER:
        acls.append(topic(topics.dlq_of("notify"), "write"))  # failed deliveries
        acls += router_acls(settings, service)
    return _unique(acls)


def router_acls(settings: Settings, principal: str) -> list[Acl]:
    """What the district router needs: read the public streams, create and write the district
    topics, commit its offsets inside its transactions."""
    topics, name = settings.topics, settings.district_router_id
    acls = [
        Acl(principal, "topic", topics.for_stream(s), "literal", "read") for s in PUBLIC_STREAMS
    ]
    acls += [
        Acl(principal, "topic", topics.district_prefix, "prefixed", op)
        for op in ("create", "write")
    ]
    acls.append(Acl(principal, "group", name, "literal", "read"))
    acls += [
        Acl(principal, "transactional_id", name, "literal", op) for op in ("write", "describe")
    ]
    return acls


def platform_acls(settings: Settings) -> list[Acl]:
    return [acl for service in PRODUCES for acl in service_acls(settings, service)]


def subscriber_acls(settings: Settings, name: str, districts: Iterable[str]) -> list[Acl]:
    """A subscriber of some districts (or, with no district, of the four public streams):
    read only, in consumer groups named `<name>.…`."""
    topics = settings.topics
    wanted = list(districts)
    acls = [
        Acl(name, "topic", topics.district_topic_prefix(d), "prefixed", "read") for d in wanted
    ] or [Acl(name, "topic", topics.for_stream(s), "literal", "read") for s in PUBLIC_STREAMS]
    acls.append(Acl(name, "group", f"{name}.", "prefixed", "read"))
    return acls


def _unique(acls: list[Acl]) -> list[Acl]:
    return list(dict.fromkeys(acls))


async def apply(settings: Settings, acls: Iterable[Acl]) -> int:
    """Creates the ACLs (existing ones stay as they are), as the admin of `settings`. Returns
    how many were sent; raises on the first the broker refuses."""
    admin = AIOKafkaAdminClient(
        **client_options(settings), request_timeout_ms=int(settings.kafka_timeout_s * 1000)
    )
    await asyncio.wait_for(admin.start(), settings.kafka_timeout_s)
    sent = 0
    try:
        for acl in acls:
            request = CreateAclsRequest(
                RESOURCE_CODES[acl.resource],
                acl.name,
                PATTERN_CODES[acl.pattern],
                f"User:{acl.principal}",
                "*",
                OPERATION_CODES[acl.operation],
                ALLOW,
            )
            response = await asyncio.wait_for(
                admin._send_request(request), settings.kafka_timeout_s
            )
            for error_code, message in response.creation_responses:
                if error_code:
                    raise RuntimeError(f"ACL {acl.describe()} refused: {error_code} {message}")
            sent += 1
    finally:
        await admin.close()
    return sent


async def setup(settings: Settings) -> int:
    """As the admin: the streams and their `.dlq` twins created, every service's ACLs set."""
    await ensure_topics(settings)
    return await apply(settings, platform_acls(settings))
