"""Choosing and opening a store from a database URL.

``sqlite:///relative.db`` and ``sqlite:////absolute/path.db`` follow SQLAlchemy;
``postgresql://…`` (also with ``?host=/socket/dir``) selects PostgreSQL; ``memory://``
gives the in-memory store; ``nats://host:4222/name`` the JetStream store called ``name``
(``eskit`` if none), with ``?duplicate_window_s=…&replicas=…&timeout_s=…`` if wanted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from eskit.errors import ConfigurationError
from eskit.store.port import EventStoreBackend

__all__ = ["jetstream_location", "open_store", "sqlite_path"]


def sqlite_path(url: str) -> Path:
    """The file a ``sqlite:`` URL names; raises ConfigurationError for other forms."""
    if not url.startswith("sqlite:///"):
        raise ConfigurationError(
            f"SQLite URLs look like sqlite:///relative.db or sqlite:////absolute.db, got {url!r}"
        )
    path = url.removeprefix("sqlite:///").split("?", 1)[0]
    if not path or path == ":memory:":
        raise ConfigurationError(
            f"{url!r} names no file; use memory:// for a store that lives in memory"
        )
    return Path(path)


@asynccontextmanager
async def open_store(
    url: str,
    *,
    migrate: bool | None = None,
    sqlite_synchronous: str | None = None,
    **options: Any,
) -> AsyncIterator[EventStoreBackend]:
    """Open the store ``url`` names; close it on exit.

    ``migrate`` defaults to True for SQLite (the embedded store sets itself up) and False for
    PostgreSQL, where ``eskit migrate`` applies the schema as a deliberate step.
    ``sqlite_synchronous`` applies to a SQLite store only; ``options`` go to the adapter.
    """
    scheme = url.partition("://")[0].split("+", 1)[0].lower()
    if scheme == "memory":
        from eskit.store.memory import InMemoryEventStore

        yield InMemoryEventStore()
    elif scheme == "sqlite":
        from eskit.store.sqlite import SQLiteEventStore

        if sqlite_synchronous is not None:
            options["synchronous"] = sqlite_synchronous
        async with SQLiteEventStore.open(
            sqlite_path(url), migrate=True if migrate is None else migrate, **options
        ) as sqlite_store:
            yield sqlite_store
    elif scheme in ("postgresql", "postgres"):
        try:
            from eskit.store.postgres import PostgresEventStore
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigurationError(
                "PostgreSQL support needs the postgres extra: pip install 'eskit[postgres]'"
            ) from exc
        async with PostgresEventStore.open(url, migrate=bool(migrate), **options) as pg_store:
            yield pg_store
    elif scheme in ("nats", "tls"):
        try:
            from eskit.store.jetstream import JetStreamEventStore
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise ConfigurationError(
                "the JetStream store needs the nats extra: pip install 'eskit[nats]'"
            ) from exc
        servers, name, nats_options = jetstream_location(url)
        async with JetStreamEventStore.open(
            servers, name=name, migrate=True if migrate is None else migrate, **nats_options
        ) as nats_store:
            yield nats_store
    else:
        raise ConfigurationError(
            f"unsupported database URL {url!r}: use sqlite:///file.db, postgresql://…, "
            "nats://host:4222/name or memory://"
        )


_NATS_OPTIONS = ("duplicate_window_s", "replicas", "timeout_s", "connect_timeout_s")


def jetstream_location(url: str) -> tuple[str, str, dict[str, Any]]:
    """The server address, store name and options a ``nats://`` URL gives."""
    parts = urlsplit(url)
    name = parts.path.strip("/") or "eskit"
    options: dict[str, Any] = {}
    for key, values in parse_qs(parts.query).items():
        if key not in _NATS_OPTIONS:
            raise ConfigurationError(
                f"unknown option {key!r} in {url!r}; known: {', '.join(_NATS_OPTIONS)}"
            )
        try:
            options[key] = float(values[-1])
        except ValueError as exc:
            raise ConfigurationError(f"{key} in {url!r} must be a number") from exc
    if "replicas" in options:
        if not options["replicas"].is_integer():
            raise ConfigurationError(f"replicas in {url!r} must be a whole number")
        options["replicas"] = int(options["replicas"])
    return f"{parts.scheme}://{parts.netloc}", name, options
