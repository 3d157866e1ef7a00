"""The one settings class: every knob is an environment variable prefixed TONGXIN_."""

from __future__ import annotations

from functools import cached_property
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_JWT_SECRET = "tongxin-dev-secret-not-for-production-use"

SERVICE_PORTS = {"needs": 8001, "volunteers": 8002, "notify": 8003, "metrics": 8004}


class Settings(BaseSettings):
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

    jwt_secret: str | None = None
    jwt_algorithm: Literal["HS256"] = "HS256"

    log_level: str = "INFO"
    log_format: Literal["auto", "json", "console"] = "auto"

    extra_categories: list[str] = Field(default_factory=list)
    # needs: a claim not completed by the need's due_at (or this many days) is released.
    claim_expiry_days: int = Field(default=14, ge=1)
    claim_expiry_check_s: float = Field(default=60.0, gt=0)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    # The deployment's time zone: calendar days of the statistics, daily limits and digests.
    timezone: str = "Asia/Shanghai"
    # metrics: generations pointer polled this often; facts reloaded from MongoDB this often
    # (picks up other instances' writes; 0 = never).
    metrics_pointer_poll_s: float = Field(default=1.0, gt=0)
    metrics_refresh_s: float = Field(default=60.0, ge=0)
    metrics_dashboard_refresh_s: int = Field(default=15, ge=2)

    # volunteers: rows one import request may carry (the CLI uploads in chunks below it).
    volunteers_import_max_rows: int = Field(default=20_000, ge=1)

    # notify: who hears an approved need, how often, and how hard we try each channel.
    notify_match_radius_km: float = Field(default=1.5, gt=0)
    notify_max_recipients_per_need: int = Field(default=50, ge=1)
    notify_daily_need_messages_per_volunteer: int = Field(default=10, ge=0)
    notify_max_attempts: int = Field(default=5, ge=1)
    notify_retry_base_s: float = Field(default=2.0, ge=0)
    notify_retry_max_s: float = Field(default=300.0, ge=0)
    notify_webhook_timeout_s: float = Field(default=5.0, gt=0)
    notify_dispatch_poll_s: float = Field(default=1.0, gt=0)
    notify_dispatch_concurrency: int = Field(default=16, ge=1)
    notify_sse_heartbeat_s: float = Field(default=15.0, gt=0)
    notify_digest_hour: int = Field(default=20, ge=0, le=23)
    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_from: str = "tongxin@localhost"
    smtp_starttls: bool = False
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_timeout_s: float = Field(default=10.0, gt=0)
    sms_provider: Literal["log"] = "log"

    @model_validator(mode="after")
    def _secret_outside_dev(self) -> Settings:
        if self.jwt_secret is None:
            if self.profile != "dev":
                raise ValueError("TONGXIN_JWT_SECRET must be set outside the dev profile")
            self.jwt_secret = DEV_JWT_SECRET
        elif self.profile != "dev" and (
            self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret) < 32
        ):
            raise ValueError("TONGXIN_JWT_SECRET must be a non-default secret of 32+ characters")
        return self

    @property
    def secret(self) -> str:
        assert self.jwt_secret is not None  # set by the validator
        return self.jwt_secret

    def database_name(self, service: str) -> str:
        return f"{self.mongodb_database_prefix}_{service}"

    def consumer_group(self, service: str) -> str:
        return f"{self.consumer_group_prefix}.{service}"

    @cached_property
    def topics(self) -> Topics:
        return Topics(self.topic_namespace)


class Topics:
    """The three streams of docs/contract.md and their dead-letter twins."""

    def __init__(self, namespace: str) -> None:
        self.needs = f"{namespace}.needs.v1"
        self.volunteers = f"{namespace}.volunteers.v1"
        self.notify = f"{namespace}.notify.v1"

    @property
    def streams(self) -> list[str]:
        return [self.needs, self.volunteers, self.notify]

    @staticmethod
    def dlq(topic: str) -> str:
        return f"{topic}.dlq"

    @property
    def all(self) -> list[str]:
        return [t for s in self.streams for t in (s, self.dlq(s))]

    def for_stream(self, stream: str) -> str:
        """`needs` -> `<namespace>.needs.v1`."""
        return {"needs": self.needs, "volunteers": self.volunteers, "notify": self.notify}[stream]
