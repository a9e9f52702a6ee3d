"""The read side's limit: a hand-written projection in plain SQL over eskit's own log.

Raw psycopg 3 / stdlib sqlite3 over eskit's ``eskit_events`` / ``eskit_checkpoints``:
pages of events, the page's rows loaded in one query, folded (``fold`` of
``contenders.eventsourcing_projection``), written back with one ``executemany`` of
upserts, the checkpoint moved, one transaction per page.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import psycopg

from contenders.eventsourcing_projection import fold
from contenders.raw_sql import pg_connect
from workloads.account_events import STREAM_TYPE, expected_balance

__all__ = [
    "RAW_CHECKPOINT",
    "RAW_TABLE",
    "check_raw_sqlite",
    "raw_catchup",
    "raw_sqlite_catchup",
    "reset_raw",
    "reset_raw_sqlite",
]

RAW_TABLE = "raw_accounts_by_id"
RAW_CHECKPOINT = "raw_accounts_by_id"
"""The raw projection's row in ``eskit_checkpoints``."""


# -- raw psycopg -------------------------------------------------------------------------

_HORIZON = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 16)"
"""Positions below this are final (see eskit.store.postgres): no commit can still add one."""

_RAW_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} "
    "(id text PRIMARY KEY, version integer NOT NULL, body jsonb NOT NULL)"
)
_RAW_CHECKPOINT = "SELECT position FROM eskit_checkpoints WHERE name = %s"
_RAW_PAGE = (
    "SELECT position, stream_id, version, event_type, data FROM eskit_events "
    f"WHERE position > %s AND position < {_HORIZON} AND stream_type = '{STREAM_TYPE}' "
    "ORDER BY position LIMIT %s"
)
_RAW_LOAD = f"SELECT id, version, body FROM {RAW_TABLE} WHERE id = ANY(%s)"
_RAW_UPSERT = (
    f"INSERT INTO {RAW_TABLE} (id, version, body) VALUES (%s, %s, %s::jsonb) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body"
)
# compare-and-set, like eskit's: a second runner of the projection rolls back its page
_RAW_ADVANCE = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (%s, %s, now()) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at WHERE eskit_checkpoints.position = %s"
)


def raw_catchup(url: str, batch: int = 1000) -> tuple[float, int]:
    """Fold eskit's log in ``url`` into :data:`RAW_TABLE`, from its checkpoint to the end.

    Pages of ``batch`` events by position (below the horizon of final positions); per page,
    one transaction: the page read, its accounts' rows loaded with one ``= ANY`` query,
    folded, written back with one ``executemany`` of upserts, the checkpoint moved. The
    table is created if missing (untimed); :func:`reset_raw` starts over. Returns
    ``(seconds, events processed)``.
    """
    with pg_connect(url) as conn:
        conn.execute(_RAW_DDL)
        row = conn.execute(_RAW_CHECKPOINT, (RAW_CHECKPOINT,)).fetchone()
        position, events = (row[0] if row else 0), 0
        started = time.perf_counter()
        while True:
            position, got = _raw_page(conn, position, batch)
            events += got
            if got < batch:
                return time.perf_counter() - started, events


def _raw_page(conn: psycopg.Connection[Any], after: int, batch: int) -> tuple[int, int]:
    """One page in one transaction; returns the new checkpoint and the events in the page."""
    with conn.transaction():
        events = conn.execute(_RAW_PAGE, (after, batch)).fetchall()
        if not events:
            return after, 0
        ids = list(dict.fromkeys(e[1] for e in events))
        rows = {i: (v, body) for i, v, body in conn.execute(_RAW_LOAD, (ids,))}
        for position, stream_id, version, event_type, data in events:
            _, body = rows.get(stream_id, (0, None))
            kind = event_type.rpartition(".")[2]
            rows[stream_id] = (version, fold(body, kind, data, position))
        with conn.cursor() as cur:
            cur.executemany(
                _RAW_UPSERT, [(i, v, orjson.dumps(b).decode()) for i, (v, b) in rows.items()]
            )
            last = events[-1][0]
            cur.execute(_RAW_ADVANCE, (RAW_CHECKPOINT, last, after))
            if cur.rowcount != 1:
                raise RuntimeError(f"checkpoint {RAW_CHECKPOINT} moved away from {after}")
    return last, len(events)


def reset_raw(url: str) -> None:
    """Empty the raw read model and drop its checkpoint, so the next catch-up starts at 0."""
    with pg_connect(url) as conn, conn.transaction():
        conn.execute(_RAW_DDL)
        conn.execute(f"TRUNCATE {RAW_TABLE}")
        conn.execute("DELETE FROM eskit_checkpoints WHERE name = %s", (RAW_CHECKPOINT,))


# -- raw sqlite3 -------------------------------------------------------------------------

_SQLITE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} "
    "(id TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL)"
)
_SQLITE_PAGE = (
    "SELECT position, stream_id, version, event_type, data FROM eskit_events "
    "WHERE position > ? AND stream_type = ? ORDER BY position LIMIT ?"
)
_SQLITE_UPSERT = (
    f"INSERT INTO {RAW_TABLE} (id, version, body) VALUES (?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE SET version = excluded.version, body = excluded.body"
)
_SQLITE_ADVANCE = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at WHERE eskit_checkpoints.position = ?"
)


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def raw_sqlite_catchup(path: Path, batch: int) -> tuple[float, int]:
    """``raw_catchup`` with the stdlib sqlite3 on eskit's SQLite file: per page of ``batch``
    events one ``BEGIN IMMEDIATE`` transaction: the page read, its accounts' rows loaded
    with one ``IN`` query, folded, written back with one ``executemany`` of upserts, the
    checkpoint moved (compare-and-set). Returns (seconds, events)."""
    conn = _sqlite_connect(path)
    try:
        conn.execute(_SQLITE_DDL)
        row = conn.execute(
            "SELECT position FROM eskit_checkpoints WHERE name = ?", (RAW_CHECKPOINT,)
        ).fetchone()
        after, events = (row[0] if row else 0), 0
        loads, dumps = orjson.loads, orjson.dumps
        started = time.perf_counter()
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                page = conn.execute(_SQLITE_PAGE, (after, STREAM_TYPE, batch)).fetchall()
                if page:
                    ids = list(dict.fromkeys(e[1] for e in page))
                    marks = ",".join("?" * len(ids))
                    load = f"SELECT id, version, body FROM {RAW_TABLE} WHERE id IN ({marks})"
                    rows = {i: (v, loads(b)) for i, v, b in conn.execute(load, ids)}
                    for position, stream_id, version, event_type, data in page:
                        _, body = rows.get(stream_id, (0, None))
                        kind = event_type.rpartition(".")[2]
                        rows[stream_id] = (version, fold(body, kind, loads(data), position))
                    conn.executemany(
                        _SQLITE_UPSERT, [(i, v, dumps(b).decode()) for i, (v, b) in rows.items()]
                    )
                    last = page[-1][0]
                    now = time.strftime("%Y-%m-%dT%H:%M:%S")
                    moved = conn.execute(_SQLITE_ADVANCE, (RAW_CHECKPOINT, last, now, after))
                    if moved.rowcount != 1:
                        raise RuntimeError(f"checkpoint {RAW_CHECKPOINT} moved away from {after}")
                    after = last
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            events += len(page)
            if len(page) < batch:
                return time.perf_counter() - started, events
    finally:
        conn.close()


def reset_raw_sqlite(path: Path) -> None:
    """Empty the raw read model and drop its checkpoint, so the next catch-up starts at 0."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute(_SQLITE_DDL)
        conn.execute(f"DELETE FROM {RAW_TABLE}")
        conn.execute("DELETE FROM eskit_checkpoints WHERE name = ?", (RAW_CHECKPOINT,))
    finally:
        conn.close()


def check_raw_sqlite(path: Path, n: int, per: int) -> None:
    balance = expected_balance(per)
    conn = sqlite3.connect(path)
    try:
        count, good = conn.execute(
            "SELECT count(*), coalesce(sum(CASE WHEN version = ? AND "
            f"json_extract(body, '$.balance') = ? THEN 1 ELSE 0 END), 0) FROM {RAW_TABLE}",
            (per, balance),
        ).fetchone()
    finally:
        conn.close()
    if count != n or good != n:
        raise AssertionError(f"{RAW_TABLE}: {count} rows ({good} right), expected {n}")
