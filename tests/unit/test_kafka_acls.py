"""The broker's ACL table (shared/kafka/acls.py) and the clients' SASL settings (issue 19)."""

from __future__ import annotations

import importlib

import pytest
from pydantic import SecretStr, ValidationError

from services.notify.handlers.district_router import district_of
from shared.kafka.acls import CONSUMES, PRODUCES, PUBLIC_STREAMS, platform_acls, subscriber_acls
from shared.kafka.connection import client_options
from shared.settings import Settings

SETTINGS = Settings()


@pytest.mark.parametrize("service", sorted(CONSUMES))
def test_the_table_grants_what_each_consumer_subscribes(service: str) -> None:
    events = importlib.import_module(f"services.{service}.handlers.events")
    assert CONSUMES[service] == events.STREAMS


def test_each_stream_is_written_by_its_own_service_only() -> None:
    topics = SETTINGS.topics
    owner = {topics.for_stream(s): svc for svc, streams in PRODUCES.items() for s in streams}
    writes = [
        a for a in platform_acls(SETTINGS) if a.operation == "write" and a.resource == "topic"
    ]
    for acl in writes:
        if acl.name in owner:
            assert acl.principal == owner[acl.name], acl.describe()
        else:  # a dead-letter twin of what it consumes, or (notify) the district topics
            assert acl.name.endswith(".dlq") or acl.name == topics.district_prefix, acl
    assert {a.name for a in writes} >= set(owner)
    assert all(a.pattern == "literal" for a in writes if a.name != topics.district_prefix)


def test_subscribers_only_read_and_one_district_never_covers_another() -> None:
    acls = subscriber_acls(SETTINGS, "portal", ["d1"])
    assert {a.operation for a in acls} == {"read"}
    (district,) = [a for a in acls if a.resource == "topic"]
    assert district.pattern == "prefixed" and district.name == "tongxin.d.d1."
    assert SETTINGS.topics.district("d1").startswith(district.name)
    assert not SETTINGS.topics.district("d10").startswith(district.name)
    streams = subscriber_acls(SETTINGS, "bank", [])
    assert sorted(a.name for a in streams if a.resource == "topic") == sorted(
        SETTINGS.topics.for_stream(s) for s in PUBLIC_STREAMS
    )
    assert {(a.resource, a.name, a.pattern) for a in streams if a.resource == "group"} == {
        ("group", "bank.", "prefixed")
    }


def test_local_development_stays_plaintext_and_sasl_needs_credentials() -> None:
    assert client_options(SETTINGS) == {
        "bootstrap_servers": "localhost:9092",
        "security_protocol": "PLAINTEXT",
    }
    with pytest.raises(ValidationError, match="TONGXIN_KAFKA_PASSWORD"):
        Settings(kafka_security_protocol="SASL_PLAINTEXT", kafka_username="needs")
    sasl = Settings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_username="needs",
        kafka_password=SecretStr("pw-of-needs"),
    )
    assert client_options(sasl) | {"bootstrap_servers": None} == {
        "bootstrap_servers": None,
        "security_protocol": "SASL_PLAINTEXT",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "needs",
        "sasl_plain_password": "pw-of-needs",
    }
    assert "pw-of-needs" not in repr(sasl)


def test_the_router_routes_by_the_first_segment_of_the_community() -> None:
    assert district_of(b'{"community": "zhongshan.hongyan.dongfeng"}') == "zhongshan"
    assert district_of(b'{"community": "zhongshan"}') == "zhongshan"
    assert district_of(b"not json") is None
    assert district_of(b'{"community": ""}') is None
    assert district_of(b"[1]") is None
