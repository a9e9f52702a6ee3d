"""Choosing and opening a store from a database URL.

``sqlite:///relative.db`` and ``sqlite:////absolute/path.db`` follow SQLAlchemy;
``postgresql://…`` (also with ``?host=/socket/dir``) selects PostgreSQL; ``memory://``
gives the in-memory store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from eskit.errors import ConfigurationError
from eskit.store.port import EventStoreBackend

__all__ = ["open_store", "sqlite_path"]


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
    else:
        raise ConfigurationError(
            f"unsupported database URL {url!r}: use sqlite:///file.db, postgresql://… or memory://"
        )
