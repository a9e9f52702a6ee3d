"""Settings, from ``ESKIT_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["EskitSettings"]

Port = Annotated[int, Field(ge=0, le=65535)]


class EskitSettings(BaseSettings):
    """Where the events live, how the store behaves, and how a service listens.

    ``ESKIT_DATABASE_URL``: ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``,
    ``postgresql://user:pass@host/db`` (or ``postgresql://user@/db?host=/socket/dir``), or
    ``memory://``, or ``nats://host:4222/name`` (the events in NATS JetStream). Default: the
    SQLite file ``./eskit.db``.
    ``ESKIT_READ_MODEL_URL``: where read models, checkpoints, leases, the command queue and
    saga instances live beside an event store without transactions (``nats://…``): a
    ``sqlite:///…`` or ``postgresql://…`` URL. Default for ``nats://host/name``: the
    SQLite file ``./name-read-models.db`` (named for the store: its checkpoints are
    positions in that store's log). Refused with any other store, which keeps them beside
    its events.
    ``ESKIT_SQLITE_SYNCHRONOUS``: ``FULL`` (default, every commit is on disk) or ``NORMAL``
    (faster; a power cut may lose the last commits, never corrupt the file).
    ``ESKIT_SERVICE``: ``module:attribute`` naming the service ``eskit serve`` and
    ``eskit worker`` run, and whose projections ``eskit projections …`` look after. No
    default: a service sets it where it is run.
    ``ESKIT_PROJECTIONS``: ``module:attribute`` naming projections (a list, or a function
    returning one) for ``eskit projections …`` and ``eskit worker`` instead of the service's.
    ``ESKIT_HOST``, ``ESKIT_PORT`` (HTTP), ``ESKIT_GRPC_PORT`` (0 turns gRPC off),
    ``ESKIT_GRPC_QUERY_PORT``: the port of a service's query methods when it serves them
    apart from its commands (50052; 0 turns it off).
    ``ESKIT_QUEUE_MAX_WAITING``: how many due commands the command queue holds before it
    answers 429 (10,000). ``ESKIT_QUEUE_WORKERS``: how many queue workers a process running
    the projections runs (1; each handles a batch of commands at a time).
    ``ESKIT_QUEUE_MAX_ATTEMPTS``: how often a command failing for reasons not its own is
    tried before it is dead-lettered (5). ``ESKIT_QUEUE_LEASE_S``: how long a worker holds
    the commands it claimed; those of a worker that died are taken over after it (30).
    ``ESKIT_API_KEYS``: comma-separated keys; when set, every API call needs
    ``Authorization: Bearer <key>``. Off by default.
    ``ESKIT_MAX_BODY_BYTES``: the largest request body accepted (2 MiB).
    ``ESKIT_CONSISTENCY_TIMEOUT_S``: how long a read waits for ``minVersion``/``minPosition``.
    ``ESKIT_AGGREGATE_CACHE_SIZE``: how many aggregates a command handler keeps in memory
    after saving them, so the next command skips the load (1024; 0 turns it off).
    ``ESKIT_WORKERS``: how many server processes ``eskit serve`` runs (1: HTTP, gRPC and the
    projections in one process; more: that many server processes sharing the ports, and
    the projections in a process of their own).
    ``ESKIT_RUN_PROJECTIONS``: whether ``eskit serve`` runs the projections in its own
    process (true) or leaves them to ``eskit worker`` (false).
    ``ESKIT_BUS_URL``: the bus the relay publishes to and consumers read:
    ``kafka://host:port``, ``nats://host:port``, or unset for the in-process bus (then
    ``eskit serve`` runs no relay: nothing outside the process could read it).
    ``ESKIT_BUS_PREFIX``: the first part of every topic and subject (``eskit``).
    ``ESKIT_BUS_SINGLE_TOPIC``: one Kafka topic for every stream type instead of one each.
    ``ESKIT_RELAY_STREAM_TYPES``: comma-separated stream types the relay publishes (all
    when unset).
    ``ESKIT_METRICS_PORT``: the port on which ``eskit worker``, ``eskit relay`` and ``eskit
    consume`` serve Prometheus metrics at ``/metrics`` (9464; 0 turns it off; ``eskit
    serve`` serves them on its HTTP port). ``ESKIT_METRICS_INTERVAL_S``: how often the
    gauges read from the database (lag, sagas, queue depth, read horizon) are refreshed
    (5). ``ESKIT_METRICS_SAGA_STUCK_AFTER_S``: how long a running or compensating saga
    instance goes without an event before the metrics count it as stuck (300).
    ``ESKIT_LOG_LEVEL``: ``DEBUG``, ``INFO`` (default), ``WARNING`` or ``ERROR``, for every
    logger of every process ``eskit`` starts. ``ESKIT_LOG_FORMAT``: ``text`` (default: one
    readable line per record) or ``json`` (one JSON object per line, for a log shipper);
    see ``docs/operations.md``.
    ``ESKIT_LEASE_TTL_S``: how long the lease of a running projection, relay or consumer
    lasts without a heartbeat (5; the holder renews it every third of that): a standby
    process takes over within about this long after the holder died.
    ``ESKIT_LEASE_RETRY_S``: how often a standby process tries to take a lease (1).
    ``ESKIT_ADMIN``: whether ``eskit serve`` serves the admin console at ``/admin`` (true).
    ``ESKIT_ADMIN_SECRET``: the key that signs console sessions and their CSRF tokens;
    unset: a random one per start, shared by the server processes of one ``eskit serve``
    (sessions then end with a restart).
    ``ESKIT_ADMIN_SESSION_S``: how long a console session lasts after login (8 hours).
    """

    model_config = SettingsConfigDict(env_prefix="ESKIT_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///eskit.db"
    read_model_url: str = ""
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = "FULL"
    snapshot_every: int | None = Field(default=None, ge=1)
    aggregate_cache_size: int = Field(default=1024, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    projections: str = ""
    service: str = ""
    host: str = "127.0.0.1"
    port: Port = 8000
    grpc_port: Port = 50051
    grpc_query_port: Port = 50052
    queue_max_waiting: int = Field(default=10_000, ge=1)
    queue_workers: int = Field(default=1, ge=0, le=64)
    queue_max_attempts: int = Field(default=5, ge=1, le=100)
    queue_lease_s: float = Field(default=30.0, gt=0, le=3600)
    api_keys: Annotated[tuple[SecretStr, ...], NoDecode] = ()
    """Secret strings: a key never reaches a log line, a repr or a traceback."""
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1)
    consistency_timeout_s: float = Field(default=5.0, gt=0, le=300)
    run_projections: bool = True
    workers: int = Field(default=1, ge=1, le=64)
    bus_url: str = ""
    bus_prefix: str = "eskit"
    bus_single_topic: bool = False
    relay_stream_types: Annotated[tuple[str, ...], NoDecode] = ()
    metrics_port: Port = 9464
    metrics_interval_s: float = Field(default=5.0, gt=0, le=3600)
    metrics_saga_stuck_after_s: float = Field(default=300.0, gt=0)
    log_format: Literal["text", "json"] = "text"
    lease_ttl_s: float = Field(default=5.0, gt=0, le=3600)
    lease_retry_s: float = Field(default=1.0, gt=0, le=600)
    admin: bool = True
    admin_secret: SecretStr | None = None
    admin_session_s: float = Field(default=8 * 3600.0, gt=0, le=30 * 24 * 3600)

    @field_validator("relay_stream_types", mode="before")
    @classmethod
    def _split_types(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(name.strip() for name in value.split(",") if name.strip())
        return value

    @field_validator("api_keys", mode="before")
    @classmethod
    def _split_keys(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(key.strip() for key in value.split(",") if key.strip())
        return value

    def store_options(self) -> dict[str, str]:
        """Adapter options implied by these settings, for :func:`eskit.store.open_store`."""
        return {"sqlite_synchronous": self.sqlite_synchronous, "read_models": self.read_model_url}
