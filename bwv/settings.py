"""Every setting of bwv, in one place, read from ``BWV_*`` environment variables.

Each field carries its default, bounds and a description, so this class documents
the configuration (the README's settings table is generated from it by
``bwv settings``). Periods and the clock are settings too, so tests run in seconds.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

MiB = 1024 * 1024


class Settings(BaseSettings):
    """bwv configuration; every field is the env var ``BWV_<FIELD NAME>``."""

    model_config = SettingsConfigDict(env_prefix="BWV_", extra="ignore")

    # --- Kafka ---------------------------------------------------------------
    kafka_bootstrap: str = Field(
        "127.0.0.1:9092", description="Kafka bootstrap servers, host:port[,host:port]"
    )
    app_id: str = Field(
        "bwv", description="Faust application id (the workers' consumer group)"
    )
    topic_replication_factor: int = Field(
        1,
        ge=1,
        le=32767,
        description="Replicas of the topics the workers create themselves (Faust's table changelogs); "
        "3 on a production cluster, so losing a broker loses no table state",
    )
    segment_partitions: int = Field(
        8, ge=1, le=10_000, description="Partitions of bwv.segments: the ceiling on parallel workers"
    )
    max_segment_bytes: int = Field(
        16 * MiB,
        ge=64 * 1024,
        le=512 * MiB,
        description="Largest segment accepted; the topic's max.message.bytes is set to fit it",
    )

    max_sequence_jump: int = Field(
        1800,
        ge=1,
        description="A segment further than this past its recording's last one is refused (1800 = 1 h of 2 s segments)",
    )

    # --- Kafka security ------------------------------------------------------
    # Applied to every Kafka client bwv creates (kafka-python, aiokafka, Faust)
    # through one mapping, bwv/security.py.
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT",
        description="How clients talk to the brokers: PLAINTEXT, SSL (TLS), SASL_PLAINTEXT or SASL_SSL (SASL over TLS)",
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        "SCRAM-SHA-512", description="SASL mechanism when the protocol is SASL_*: SCRAM-SHA-512, SCRAM-SHA-256 or PLAIN"
    )
    kafka_sasl_username: str | None = Field(None, description="SASL user name (required with SASL_*)")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (required with SASL_*)")
    kafka_ca_file: Path | None = Field(
        None,
        description="PEM file of the CA(s) that signed the brokers' certificates, for SSL and SASL_SSL "
        "(unset: the system's trusted CAs)",
    )

    @model_validator(mode="after")
    def _security_is_consistent(self) -> "Settings":
        tls = self.kafka_security_protocol in ("SSL", "SASL_SSL")
        if self.kafka_security_protocol.startswith("SASL_"):
            missing = [
                name
                for name, value in (
                    ("BWV_KAFKA_SASL_USERNAME", self.kafka_sasl_username),
                    ("BWV_KAFKA_SASL_PASSWORD", self.kafka_sasl_password),
                )
                if not value
            ]
            if missing:
                raise ValueError(f"BWV_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} needs {' and '.join(missing)}")
        if self.kafka_ca_file is not None:
            if not tls:
                raise ValueError(
                    f"BWV_KAFKA_CA_FILE is set but BWV_KAFKA_SECURITY_PROTOCOL={self.kafka_security_protocol} "
                    "does not use TLS (use SSL or SASL_SSL)"
                )
            if not self.kafka_ca_file.is_file():
                raise ValueError(f"BWV_KAFKA_CA_FILE={self.kafka_ca_file}: no such file")
        if self.s3_ca_file is not None:
            if not self.s3_secure:
                raise ValueError("BWV_S3_CA_FILE is set but BWV_S3_ENDPOINT is not https://")
            if not self.s3_ca_file.is_file():
                raise ValueError(f"BWV_S3_CA_FILE={self.s3_ca_file}: no such file")
        return self

    # --- S3 ------------------------------------------------------------------
    s3_endpoint: str = Field("http://127.0.0.1:9000", description="S3 endpoint URL")
    s3_access_key: str = Field("bwv", description="S3 access key")
    s3_secret_key: SecretStr = Field(SecretStr("bwv-secret-key"), description="S3 secret key")
    s3_region: str = Field("us-east-1", description="S3 region")
    footage_bucket: str = Field(
        "bwv-footage", description="Bucket (object lock on) for segments and thumbnails"
    )
    quarantine_bucket: str = Field(
        "bwv-quarantine", description="Bucket (object lock on) for segments that failed checks"
    )
    s3_ca_file: Path | None = Field(
        None,
        description="PEM file of the CA(s) that signed the S3 endpoint's certificate, for an https:// "
        "endpoint (unset: the system's trusted CAs)",
    )
    s3_threads: int = Field(
        8, ge=1, le=256, description="Concurrent S3 requests per worker (blocking SDK calls run in threads)"
    )

    # --- S3 timeouts ---------------------------------------------------------
    # A hung S3 must end in an error the ingest retry loop sees (and alerts on),
    # not in a thread blocked forever with the batch behind it.
    s3_connect_timeout: float = Field(
        5, gt=0, le=300, description="Seconds to wait for a connection to S3 before the call fails and is retried"
    )
    s3_read_timeout: float = Field(
        30,
        gt=0,
        le=3600,
        description="Seconds S3 may stay silent during a call before it fails and is retried (keep above the time to store the largest segment)",
    )

    # --- Metrics -------------------------------------------------------------
    metrics_port: int = Field(
        9100,
        ge=0,
        le=65535,
        description="Port of the Prometheus metrics endpoint (/metrics) of workers and the control room; "
        "the ServiceMonitor in k8s/ scrapes it",
    )

    # --- Recording -----------------------------------------------------------
    segment_seconds: float = Field(
        2.0, gt=0.1, le=60, description="Target segment length cut by cameras"
    )
    retention_days: float = Field(
        31, gt=0, description="Days unmarked footage is kept after capture end"
    )

    # --- Camera identity -----------------------------------------------------
    camera_keys_dir: Path = Field(
        Path(".bwv/keys"),
        description="Where a camera finds its Ed25519 private key, <camera id>.key (PEM)",
    )
    require_signed_segments: bool = Field(
        True,
        description="Refuse messages not signed by a registered, unrevoked camera key (turn off only to migrate)",
    )

    # --- Camera spool --------------------------------------------------------
    spool_dir: Path = Field(
        Path(".bwv/spool"),
        description="Camera-side spool, one sub-directory per camera id: every segment is fsync'd here "
        "before it is sent and deleted only after the broker acknowledged it",
    )
    spool_max_bytes: int = Field(
        1024 * MiB,
        ge=1 * MiB,
        description="Bound of one camera's spool; when full the camera stops accepting footage "
        "(loudly) instead of dropping any",
    )
    spool_drain_timeout: float = Field(
        30,
        ge=0,
        le=86_400,
        description="Seconds `bwv camera` waits at the end for the broker to acknowledge what is still "
        "spooled before it exits 3 (the rest is sent first on the next start)",
    )
    delivery_timeout: float = Field(
        120,
        ge=1,
        le=3_600,
        description="Seconds the Kafka producer retries one message (delivery.timeout.ms) before the "
        "spool sends it again",
    )

    # --- Seals ---------------------------------------------------------------------
    seal_key_file: Path = Field(
        Path(".bwv/keys/bwv-seal.key"),
        description="Ed25519 private key (PEM) the workers sign closed recordings' chain heads with; "
        "created by `bwv keys init` (a worker without one creates it); its public key is published on bwv.service-keys",
    )

    # --- Retention ------------------------------------------------------------
    retention_categories: dict[str, float | None] = Field(
        {"evidential": None, "training": 365.0},
        description="Categories a recording can be marked with, in days kept after capture end; null = kept "
        "(legal hold) until released. 'unmarked' is always BWV_RETENTION_DAYS. JSON, e.g. "
        '{"evidential": null, "training": 365}',
    )
    retention_check_interval: float = Field(
        60, gt=0, le=86_400, description="Seconds between each worker's scans for expired recordings"
    )
    clock_offset_seconds: float = Field(
        0, description="Added to the wall clock for retention decisions (tests and drills only)"
    )

    # --- Index and thumbnails -----------------------------------------------
    thumbnails: Literal["inline", "agent", "off"] = Field(
        "inline",
        description="Where thumbnails are cut: inline (from the bytes ingest already holds), agent "
        "(a separate agent fetching each stored segment back from S3) or off",
    )
    thumbnail_width: int = Field(320, ge=16, le=1920, description="Thumbnail width in pixels (aspect kept)")
    thumbnail_interval_seconds: float = Field(
        10,
        ge=0,
        le=3600,
        description="A recording's thumbnails are cut as it is stored for its first segment and one segment "
        "per this many seconds of footage (0: every segment); the others are cut when asked for",
    )
    camera_silent_seconds: float = Field(
        10, gt=0, description="A recording camera that sends nothing for this long raises camera_silent"
    )
    recording_idle_seconds: float = Field(
        120, gt=0, description="A recording with no segment for this long is closed (idle_timeout)"
    )
    index_check_interval: float = Field(
        1.0, gt=0, le=60, description="Seconds between the index's checks for silent cameras and idle recordings"
    )

    # --- Worker --------------------------------------------------------------
    ingest_batch_size: int = Field(
        16, ge=1, le=1000, description="Segments taken from the stream per ingest batch"
    )
    ingest_batch_within: float = Field(
        0.05, gt=0, le=10, description="Seconds to wait to fill an ingest batch"
    )
    store: str = Field(
        "memory://", description="Faust table store: memory:// or rocksdb:// (production)"
    )
    data_dir: Path = Field(Path(".bwv/data"), description="Worker state directory")
    web_port: int = Field(6066, ge=0, le=65535, description="Faust worker web port")
    web_host: str = Field("127.0.0.1", description="Faust worker web bind address")
    rebalance_timeout: float = Field(
        60, gt=0, description="Kafka consumer-group rebalance timeout, seconds"
    )
    session_timeout: float = Field(
        60, gt=0, description="Kafka consumer-group session timeout, seconds"
    )
    log_level: str = Field("info", description="Worker log level: crit, error, warn, info, debug")

    # --- Control room ----------------------------------------------------------
    control_room_port: int = Field(8080, ge=0, le=65535, description="Control room web port")
    control_room_host: str = Field("127.0.0.1", description="Control room bind address")
    control_room_users: Path = Field(
        Path(".bwv/users.json"), description="Control room operators, roles and argon2 password hashes (bwv control-room add-user)"
    )
    control_room_session_hours: float = Field(
        8, gt=0, le=24 * 30, description="Hours a control-room login lasts before the operator must log in again"
    )
    control_room_secret: SecretStr | None = Field(
        None,
        description="Key that signs control-room session cookies; set the same on every replica "
        "(unset: a random key per process, so a restart logs everyone out)",
    )
    control_room_cache_bytes: int = Field(
        256 * MiB,
        ge=0,
        description="Segment bytes the control room keeps in memory for live viewers (LRU): "
        "many browsers watching one camera cost one S3 GET per segment; 0 turns the cache off",
    )
    map_tile_url: str = Field(
        "",
        description="Map tile URL template for the control room's map, e.g. https://tile.example.org/{z}/{x}/{y}.png "
        "(empty: a plain coordinate grid drawn in the browser, nothing fetched from the internet)",
    )
    map_tile_attribution: str = Field("", description="Attribution shown on the map for the tiles of BWV_MAP_TILE_URL")

    @field_validator("map_tile_url")
    @classmethod
    def _tile_url_is_http(cls, value: str) -> str:
        value = value.strip()
        if value and (urlsplit(value).scheme not in ("http", "https") or not urlsplit(value).hostname):
            raise ValueError(f"must be an http(s) URL template like https://host/{{z}}/{{x}}/{{y}}.png, got {value!r}")
        return value

    @field_validator("s3_endpoint")
    @classmethod
    def _endpoint_is_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"must look like http://host:port, got {value!r}")
        return value.rstrip("/")

    @property
    def s3_secure(self) -> bool:
        return urlsplit(self.s3_endpoint).scheme == "https"

    @property
    def s3_host(self) -> str:
        """host:port as the minio SDK wants it."""
        return urlsplit(self.s3_endpoint).netloc

    @property
    def retention_seconds(self) -> float:
        return self.retention_days * 86_400

    def category_days(self, category: str) -> float | None:
        """Days a category keeps footage after capture end; None: until released. KeyError if unknown."""
        if category == "unmarked":
            return self.retention_days
        return self.retention_categories[category]

    @field_validator("retention_categories")
    @classmethod
    def _categories_are_sane(cls, value: dict[str, float | None]) -> dict[str, float | None]:
        for name, days in value.items():
            if name == "unmarked":
                raise ValueError("'unmarked' is set by BWV_RETENTION_DAYS, not here")
            if days is not None and days <= 0:
                raise ValueError(f"category {name!r}: days must be positive or null, got {days}")
        return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()
