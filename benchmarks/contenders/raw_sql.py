"""The raw limit: the same table shape as eskit_events, written and read with plain SQL.

PostgreSQL: psycopg 3, autocommit connections, one INSERT per command (its own
transaction), jsonb decoded with orjson like eskit does. SQLite: the stdlib ``sqlite3`` on
a WAL file with ``synchronous=FULL``; writers of one process take turns on a lock (as any
sane in-process use of SQLite does) instead of spinning in SQLite's busy handler. Event ids
are UUIDv7 like eskit's: random UUIDv4 ids would dirty a random page of the event-id index
per insert (on SQLite that alone made batches 3x slower).
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson
import psycopg
from psycopg.types.json import set_json_loads
from uuid_utils.compat import uuid7

from workloads.account_events import STREAM_TYPE

__all__ = [
    "DEPOSITED",
    "OPENED",
    "PG_INSERT",
    "SQLITE_INSERT",
    "RawSQLite",
    "checkpoint_file",
    "pg_bulk_insert",
    "pg_connect",
    "pg_create_table",
    "rows_for",
]

OPENED = "bank_accounts.AccountOpened"
DEPOSITED = "bank_accounts.MoneyDeposited"

_PG_DDL = """
CREATE TABLE raw_events (
    position       bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream_id      text        NOT NULL,
    stream_type    text        NOT NULL,
    version        bigint      NOT NULL CHECK (version > 0),
    event_id       uuid        NOT NULL,
    event_type     text        NOT NULL,
    schema_version integer     NOT NULL CHECK (schema_version > 0),
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT raw_events_stream_version_key UNIQUE (stream_id, version),
    CONSTRAINT raw_events_event_id_key UNIQUE (event_id)
);
CREATE INDEX raw_events_stream_starts ON raw_events (position) WHERE version = 1;
"""

_INSERT_COLUMNS = (
    "stream_id, stream_type, version, event_id, event_type, schema_version, data, metadata"
)
PG_INSERT = (
    f"INSERT INTO raw_events ({_INSERT_COLUMNS}) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s::jsonb, %s::jsonb)"
)

RawRow = tuple[str, str, int, uuid.UUID, str, int, str, str]


def rows_for(
    stream_id: str, first_version: int, items: Sequence[tuple[str, dict[str, Any]]]
) -> list[RawRow]:
    """Insert parameters for ``(event_type, data)`` items appended after ``first_version - 1``."""
    return [
        (
            stream_id,
            STREAM_TYPE,
            first_version + i,
            uuid7(),  # time-ordered like eskit's ids: random ones scatter index writes
            event_type,
            1,
            orjson.dumps(data).decode(),
            "{}",
        )
        for i, (event_type, data) in enumerate(items)
    ]


def pg_connect(url: str) -> psycopg.Connection[Any]:
    """An autocommit connection set up like eskit's: orjson for jsonb, times in UTC (the
    fast path of psycopg's timestamptz loader; a named zone such as 'Etc/UTC' is slower)."""
    conn = psycopg.connect(url, autocommit=True)
    set_json_loads(orjson.loads, conn)
    conn.execute("SET TIME ZONE 'UTC'")
    return conn


def pg_create_table(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(_PG_DDL.encode())


def pg_bulk_insert(conn: psycopg.Connection[Any], rows: Iterator[RawRow]) -> None:
    """Preload with COPY in one transaction."""
    copy_sql = f"COPY raw_events ({_INSERT_COLUMNS}) FROM STDIN"
    with conn.transaction(), conn.cursor() as cur, cur.copy(copy_sql) as copy:
        for row in rows:
            copy.write_row(row)


# -- SQLite ------------------------------------------------------------------------------

_SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS raw_events (
    position       INTEGER PRIMARY KEY,
    stream_id      TEXT    NOT NULL,
    stream_type    TEXT    NOT NULL,
    version        INTEGER NOT NULL CHECK (version > 0),
    event_id       TEXT    NOT NULL UNIQUE,
    event_type     TEXT    NOT NULL,
    schema_version INTEGER NOT NULL CHECK (schema_version > 0),
    data           TEXT    NOT NULL,
    metadata       TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (stream_id, version)
);
CREATE INDEX IF NOT EXISTS raw_events_stream_starts ON raw_events (position) WHERE version = 1;
"""

SQLITE_INSERT = f"INSERT INTO raw_events ({_INSERT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"


class RawSQLite:
    """One SQLite file in WAL mode with synchronous=FULL; a connection per thread."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.write_lock = threading.Lock()
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        with self.connection() as conn:
            conn.executescript(_SQLITE_DDL)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
            self._all.append(conn)
        return conn

    def insert(self, rows: Sequence[RawRow]) -> None:
        """One transaction holding ``rows``."""
        params = [(*row[:3], str(row[3]), *row[4:]) for row in rows]
        conn = self.connection()
        with self.write_lock:
            if len(params) == 1:
                conn.execute(SQLITE_INSERT, params[0])  # autocommit: its own transaction
                return
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(SQLITE_INSERT, params)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def close(self) -> None:
        for conn in self._all:
            conn.close()
        self._all.clear()


def checkpoint_file(path: Path) -> None:
    """Move a SQLite file's write-ahead log into the file, as SQLite does every 1,000 pages.

    Every contender's file gets this after its preload, so each is read in the same state
    (reading pages still in the log costs more: about 2x for a fresh 10,000-event stream).
    """
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        conn.close()
