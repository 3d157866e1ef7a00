"""The settings every service needs (Kafka, MongoDB, auth, the relay, consumers, logging, the
profile, HTTP limits); each service's own knobs are in `services/<svc>/settings.py`, on this
base. Every knob is an environment variable prefixed TONGXIN_."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_PHONE_LINK_KEY = "tongxin-dev-phone-link-key-not-for-production"
DEV_ISSUER = "http://127.0.0.1:8005"

SERVICE_PORTS = {
    "needs": 8001,
    "volunteers": 8002,
    "notify": 8003,
    "metrics": 8004,
    "identity": 8005,
}


class Settings(BaseSettings):
    """What every service needs; a service builds its own subclass."""

    model_config = SettingsConfigDict(env_prefix="TONGXIN_", env_file=None, extra="ignore")

    profile: Literal["dev", "prod"] = "dev"
    kafka_bootstrap: str = "localhost:9092"
    # Topics are "<namespace>.<stream>.v1"; tests use a namespace of their own.
    topic_namespace: str = "tongxin"
    topic_partitions: int = Field(default=3, ge=1)
    kafka_create_topics: bool = True
    kafka_timeout_s: float = Field(default=10.0, gt=0)
    consumer_group_prefix: str = "tongxin"
    consumer_offset_reset: Literal["earliest", "latest"] = "earliest"
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_retry_base_s: float = Field(default=0.2, ge=0)
    consumer_retry_max_s: float = Field(default=5.0, ge=0)
    consumer_batch_size: int = Field(default=500, ge=1)
    # A consumer with work in hand or lag that handles nothing for this long is stalled:
    # /readyz answers 503 `consumer_stalled` (#12).
    consumer_stall_after_s: float = Field(default=30.0, gt=0)
    # Stalled this long, the process is not alive: /healthz answers 503 and the liveness probe
    # has the pod restarted (#16).
    consumer_stall_restart_after_s: float = Field(default=300.0, gt=0)

    mongodb_url: str = "mongodb://127.0.0.1:27017/"
    # Each service owns the database "<prefix>_<service>".
    mongodb_database_prefix: str = "tongxin"
    mongodb_timeout_ms: int = Field(default=5000, ge=100)

    # Off: this process stores events but leaves publishing to another relay process.
    relay_enabled: bool = True
    relay_poll_s: float = Field(default=0.5, gt=0)
    relay_batch_size: int = Field(default=500, ge=1)
    # One replica publishes a service's outbox at a time; a dead one is replaced within 2 terms.
    relay_lease_s: float = Field(default=5.0, gt=0)
    # perf (#12): the relay publishes what this process stored from memory; the outbox scan
    # (start-up, dead writers, other replicas) runs at most this often while it keeps up.
    relay_scan_s: float = Field(default=2.0, ge=0)

    # Tokens (#14): every service verifies with the identity provider's JWKS, issuer and
    # audience; only the identity service (and the dev CLI) holds the signing keys.
    jwks_url: str | None = None  # dev: the local identity service's
    jwt_issuer: str = DEV_ISSUER  # also the identity service's public base URL (OIDC)
    jwt_audience: str = "tongxin"
    jwt_keys_dir: str | None = None  # Ed25519 private keys (PEM); dev: <var_dir>/identity/keys
    # State directory (also infra.sh's TONGXIN_VAR_DIR): dev keys, var/log/sms.jsonl.
    var_dir: str = "var"

    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    extra_categories: list[str] = Field(default_factory=list)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # The deployment's time zone: calendar days of the statistics, daily limits and digests.
    timezone: str = "Asia/Shanghai"
    # HMAC key of the normalised phone the volunteers service puts on its events, so that
    # identity links a signed-in phone to its volunteers without phones on the stream.
    phone_link_key: str | None = None

    # web (#18): where people open the apps; `make run` prints it first.
    gateway_url: str = "http://127.0.0.1:8080"
    # security (issue 19): request header bounds; the bearer token Prometheus presents to
    # /metrics (required there in the prod profile: without it /metrics answers 401).
    max_header_bytes: int = Field(default=16_384, ge=1024)
    metrics_scrape_token: str | None = Field(default=None, min_length=16)
    # Rate limits ("<count>/<second|minute|hour>", moving windows per instance): every /v1
    # request per client address, and per principal its writes and its reads; open event
    # streams per user.
    rate_limit_enabled: bool = True
    rate_limit_per_address: str = "1200/minute"
    rate_limit_writes: str = "120/minute"
    rate_limit_reads: str = "600/minute"
    sse_streams_per_user: int = Field(default=5, ge=1)
    # faults (#16): test-only hooks, `POST /internal/faults/{relay|consumer}` cancels that task
    # so the supervisor must restart it (tests/faults). Never on in the prod profile.
    fault_hooks: bool = False

    @model_validator(mode="after")
    def _no_fault_hooks_in_prod(self) -> Settings:
        if self.profile == "prod" and self.fault_hooks:
            raise ValueError("TONGXIN_FAULT_HOOKS cannot be on in the prod profile")
        return self

    # Kafka security (issue 19): in Compose and Kubernetes each service signs in with its own
    # SCRAM user (TONGXIN_KAFKA_USERNAME = the service's name, the password from its secret)
    # and the broker's ACLs let it write its own stream only (shared/kafka/acls.py). Local
    # development stays PLAINTEXT. SASL_SSL verifies the broker with kafka_ssl_cafile.
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256"] = "SCRAM-SHA-512"
    kafka_username: str | None = None
    kafka_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = None
    # notify runs the district router (one replica at a time): the public streams' events
    # copied, once each, to `<namespace>.d.<district>.v1` for per-district subscribers.
    district_streams: bool = False
    # start (#16, #19): in-memory read models (the list indexes) are saved as a snapshot this
    # often while they change, so that a restart loads the snapshot and the stream since
    # instead of scanning every document. 0: never (every start loads in full).
    read_model_snapshot_s: float = Field(default=60.0, ge=0)

    @model_validator(mode="after")
    def _no_defaults_outside_dev(self) -> Settings:
        dev = self.profile == "dev"
        if self.jwks_url is None:
            if not dev:
                raise ValueError("TONGXIN_JWKS_URL must be set outside the dev profile")
            self.jwks_url = f"{DEV_ISSUER}/.well-known/jwks.json"
        if self.phone_link_key is None:
            if not dev:
                raise ValueError("TONGXIN_PHONE_LINK_KEY must be set outside the dev profile")
            self.phone_link_key = DEV_PHONE_LINK_KEY
        elif not dev and (
            self.phone_link_key == DEV_PHONE_LINK_KEY or len(self.phone_link_key) < 32
        ):
            raise ValueError("TONGXIN_PHONE_LINK_KEY must be a non-default key of 32+ characters")
        if self.jwt_keys_dir is None and dev:
            self.jwt_keys_dir = f"{self.var_dir}/identity/keys"
        return self

    @model_validator(mode="after")
    def _kafka_credentials(self) -> Settings:
        sasl = self.kafka_security_protocol != "PLAINTEXT"
        if sasl and (not self.kafka_username or self.kafka_password is None):
            raise ValueError(
                "TONGXIN_KAFKA_USERNAME and TONGXIN_KAFKA_PASSWORD must be set with "
                f"TONGXIN_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol}"
            )
        return self

    @property
    def jwks(self) -> str:
        assert self.jwks_url is not None  # set by the validator
        return self.jwks_url

    @property
    def link_key(self) -> str:
        assert self.phone_link_key is not None  # set by the validator
        return self.phone_link_key

    def database_name(self, service: str) -> str:
        return f"{self.mongodb_database_prefix}_{service}"

    def consumer_group(self, service: str) -> str:
        return f"{self.consumer_group_prefix}.{service}"

    @property
    def district_router_id(self) -> str:
        """The district router's consumer group and transactional id."""
        return f"{self.consumer_group_prefix}.router"

    @cached_property
    def topics(self) -> Topics:
        return Topics(self.topic_namespace)


class Topics:
    """The streams of docs/contract.md (and identity, #14) and their dead-letter twins."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        self.needs = f"{namespace}.needs.v1"
        self.volunteers = f"{namespace}.volunteers.v1"
        self.notify = f"{namespace}.notify.v1"
        self.identity = f"{namespace}.identity.v1"

    @property
    def streams(self) -> list[str]:
        return [self.needs, self.volunteers, self.notify, self.identity]

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}.dlq"

    def dlq_of(self, stream: str) -> str:
        return self.dlq(self.for_stream(stream))

    @property
    def district_prefix(self) -> str:
        """Every district topic starts so (the district router's ACLs)."""
        return f"{self.namespace}.d."

    def district_topic_prefix(self, district: str) -> str:
        """`<namespace>.d.<district>.`: a district subscriber's ACL (its topic and later
        versions of it, never another district's)."""
        return f"{self.district_prefix}{district}."

    def district(self, district: str) -> str:
        """The per-district stream of public events: `<namespace>.d.<district>.v1`."""
        return f"{self.district_topic_prefix(district)}v1"

    @property
    def all(self) -> list[str]:
        return [t for s in self.streams for t in (s, self.dlq(s))]

    def for_stream(self, stream: str) -> str:
        """`needs` -> `<namespace>.needs.v1`."""
        return {
            "needs": self.needs,
            "volunteers": self.volunteers,
            "notify": self.notify,
            "identity": self.identity,
        }[stream]
