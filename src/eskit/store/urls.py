"""Choosing and opening a store from a database URL.

``sqlite:///relative.db`` and ``sqlite:////absolute/path.db`` follow SQLAlchemy;
``postgresql://…`` (also with ``?host=/socket/dir``) selects PostgreSQL; ``memory://``
gives the in-memory store; ``nats://host:4222/name`` the JetStream store called ``name``
(``eskit`` if none), with ``?duplicate_window_s=…&replicas=…&timeout_s=…`` if wanted.

JetStream has no transactions, so a ``nats://`` URL opens it beside a read-model database
(a :class:`~eskit.store.split.SplitStore`): the SQLite or PostgreSQL store ``read_models``
names, by default the SQLite file ``<name>-read-models.db`` in the working directory. The
file is named for the store because its checkpoints are positions in that store's log: two
stores must never share one. A store that keeps read models beside its events (SQLite,
PostgreSQL) or forgets everything on exit (``memory://``) refuses a read-model URL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from eskit.errors import ConfigurationError
from eskit.store.port import EventStoreBackend
from eskit.store.unit_of_work import has_transactions

__all__ = ["default_read_model_url", "jetstream_location", "open_store", "sqlite_path"]


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
    read_models: str = "",
    **options: Any,
) -> AsyncIterator[EventStoreBackend]:
    """Open the store ``url`` names; close it on exit.

    ``migrate`` defaults to True for SQLite (the embedded store sets itself up) and False for
    PostgreSQL, where ``eskit migrate`` applies the schema as a deliberate step.
    ``sqlite_synchronous`` applies to a SQLite store only; ``options`` go to the adapter.
    ``read_models``: the URL of the read-model database beside a store without
    transactions (see module); ConfigurationError if given for any other store.
    """
    scheme = _scheme(url)
    if scheme == "nats" or scheme == "tls":
        async with _split_store(
            url, read_models, migrate=migrate, sqlite_synchronous=sqlite_synchronous, **options
        ) as split:
            yield split
        return
    if read_models:
        raise ConfigurationError(
            f"a read-model URL ({read_models!r}) goes with an event store without "
            f"transactions (nats://…); {url!r} "
            + (
                "forgets its events on exit, which would leave checkpoints past them"
                if scheme == "memory"
                else "keeps its read models beside its events"
            )
        )
    async with _open_one(url, migrate, sqlite_synchronous, options) as store:
        yield store


def _scheme(url: str) -> str:
    return url.partition("://")[0].split("+", 1)[0].lower()


def default_read_model_url(url: str) -> str:
    """The read-model database of the store ``url`` names when none is given: the SQLite
    file ``<name>-read-models.db`` beside a JetStream store called ``name``."""
    _, name, _ = jetstream_location(url)
    return f"sqlite:///{name}-read-models.db"


@asynccontextmanager
async def _split_store(
    url: str,
    read_models: str,
    *,
    migrate: bool | None,
    sqlite_synchronous: str | None,
    **options: Any,
) -> AsyncIterator[EventStoreBackend]:
    """The JetStream store ``url`` names beside the read-model database (see module)."""
    from eskit.store.split import split_store

    read_url = read_models or default_read_model_url(url)
    if _scheme(read_url) not in ("sqlite", "postgresql", "postgres"):
        raise ConfigurationError(
            f"the read-model database must be SQLite or PostgreSQL (sqlite:///file.db, "
            f"postgresql://…), got {read_url!r}"
        )
    async with (
        _open_one(url, migrate, None, options) as events,
        _open_one(read_url, migrate, sqlite_synchronous, {}) as rows,
    ):
        assert has_transactions(rows)  # SQLite and PostgreSQL have them
        yield split_store(events=events, read_models=rows)


@asynccontextmanager
async def _open_one(
    url: str, migrate: bool | None, sqlite_synchronous: str | None, options: dict[str, Any]
) -> AsyncIterator[EventStoreBackend]:
    """One adapter's store, as ``url`` names it."""
    scheme = _scheme(url)
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
