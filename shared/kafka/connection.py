"""How every Kafka client of Tongxin connects: the bootstrap servers and, outside local
development, SASL/SCRAM (over TLS with SASL_SSL) as the process's own user.

Producers, consumers and admin clients are built with `**client_options(settings)`, so a
client cannot forget the credentials.
"""

from __future__ import annotations

from typing import Any

from aiokafka.helpers import create_ssl_context

from shared.settings import Settings


def client_options(settings: Settings) -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
    }
    if settings.kafka_security_protocol == "PLAINTEXT":
        return options
    assert settings.kafka_password is not None  # the settings validator requires it
    options |= {
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": settings.kafka_username,
        "sasl_plain_password": settings.kafka_password.get_secret_value(),
    }
    if settings.kafka_security_protocol == "SASL_SSL":
        options["ssl_context"] = create_ssl_context(cafile=settings.kafka_ssl_cafile)
    return options
