"""The read side's limit: eskit's ``AccountsById`` projection written by hand in plain SQL.

Raw psycopg 3 / stdlib sqlite3 over eskit's own ``eskit_events`` and ``eskit_checkpoints``
do what eskit's projection runner does with ``bank_accounts.projections.AccountsById``
over a ``DocumentCollection``, with nothing in between:

* the read model is a table of the document collection's shape (``id, version, body``;
  ``version`` counts the writes of the document, ``body`` is JSON) named
  :data:`RAW_TABLE`, and its checkpoint is the row :data:`RAW_CHECKPOINT` of
  ``eskit_checkpoints``;
* every document holds the projection's fields: ``account_id, email, address,
  first_name, last_name, balance, currency, status, version`` (the stream version of the
  last event folded in), ``created_at`` and ``updated_at`` (the ``recorded_at`` of the
  opening and of the last event, ISO-8601 UTC with microseconds and a ``Z``, as
  ``bank_accounts.projections.utc_timestamp`` writes them);
* one connection, one thread; pages of ``batch`` events by position (PostgreSQL: below
  the horizon of final positions, as eskit's reads), ``stream_type = 'BankAccount'``;
  per page one transaction (SQLite: ``BEGIN IMMEDIATE``): the page read, its accounts'
  documents loaded with one query (``= ANY(%s)``; ``IN (?, …)``), the events folded into
  them in position order, an event the document already holds (its ``version``) skipped,
  then the changed documents written back as eskit's document writer writes them:
  existing ones with one ``executemany`` of ``UPDATE … SET body = …, version = version +
  1 WHERE id = … AND version = <as read>``, new ones with one ``executemany`` of ``INSERT
  … ON CONFLICT (id) DO NOTHING``, each checked by its row count (a concurrent writer
  fails the page), and the checkpoint moved by compare-and-set;
* the fastest plain Python for each step: event data decoded with orjson (psycopg's jsonb
  loader set to it; ``orjson.loads`` on SQLite's text) into plain dicts, not validated
  into event classes; documents encoded with ``orjson.dumps`` (without the writer's check
  for an escaped NUL); event types compared as stored; times: on PostgreSQL the
  ``timestamptz`` psycopg loads (the session is in UTC) formatted with
  ``datetime.isoformat`` (measured faster than the server's ``to_char``), on SQLite the
  stored text (fixed-width ISO-8601 ending in ``+00:00``) with its offset replaced by
  ``Z``.

``python -m contenders.raw_projection`` (from ``benchmarks/``) runs a self-check on
SQLite and an embedded PostgreSQL (200 accounts x 50 events), which also checks that a
second catch-up resumes at the checkpoint and finds nothing.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import orjson
import psycopg

from contenders.raw_sql import pg_connect
from workloads.account_events import STREAM_TYPE

__all__ = [
    "RAW_CHECKPOINT",
    "RAW_TABLE",
    "fold_page",
    "raw_pg_catchup",
    "raw_pg_documents",
    "raw_sqlite_catchup",
    "raw_sqlite_documents",
    "reset_raw_pg",
    "reset_raw_sqlite",
]

RAW_TABLE = "raw_accounts_by_id"
RAW_CHECKPOINT = "raw_accounts_by_id"
"""The raw projection's row in ``eskit_checkpoints``."""

Body = dict[str, Any]

_OPENED = "bank_accounts.AccountOpened"
_DEPOSITED = "bank_accounts.MoneyDeposited"
_WITHDRAWN = "bank_accounts.MoneyWithdrawn"
_EMAIL_CHANGED = "bank_accounts.EmailChanged"

Page = list[tuple[int, str, int, str, Any, Any]]
"""Events as read: ``(position, stream_id, version, event_type, data, recorded_at)``."""


def fold_page(
    page: Page,
    documents: dict[str, Body],
    decode: Callable[[Any], Body] | None,
    stamp: Callable[[Any], str],
) -> set[str]:
    """Fold ``page`` into ``documents`` (changed in place); returns the ids changed.

    ``decode`` turns the data column into a dict (None: it is one already); ``stamp``
    turns ``recorded_at`` into the documents' time text.
    """
    changed: set[str] = set()
    for _, stream_id, version, event_type, data, recorded_at in page:
        document = documents.get(stream_id)
        if document is not None and document["version"] >= version:
            continue  # the document holds this event already
        fields = data if decode is None else decode(data)
        if event_type == _OPENED:
            moment = stamp(recorded_at)
            documents[stream_id] = {
                "account_id": stream_id,
                "email": fields["email"],
                "address": fields["address"],
                "first_name": fields["first_name"],
                "last_name": fields["last_name"],
                "balance": fields["balance"],
                "currency": fields["currency"],
                "status": fields["status"],
                "version": version,
                "created_at": moment,
                "updated_at": moment,
            }
        elif document is None:  # the log says the account exists: a missing one is a bug
            raise LookupError(f"account {stream_id} has no document at version {version}")
        else:
            if event_type == _DEPOSITED:
                document["balance"] += fields["amount"]
            elif event_type == _WITHDRAWN:
                document["balance"] -= fields["amount"]
            elif event_type == _EMAIL_CHANGED:
                document["email"] = fields["email"]
            else:
                continue  # not an account event: nothing changes
            document["version"] = version
            document["updated_at"] = stamp(recorded_at)
        changed.add(stream_id)
    return changed


def _writes(
    changed: Iterable[str], documents: dict[str, Body], stored: dict[str, int]
) -> tuple[list[tuple[str, str, int]], list[tuple[str, str]]]:
    """(updates as ``(body, id, version read)``, inserts as ``(id, body)``)."""
    dumps = orjson.dumps
    updates, inserts = [], []
    for doc_id in changed:
        body = dumps(documents[doc_id]).decode()
        version = stored.get(doc_id)
        if version is None:
            inserts.append((doc_id, body))
        else:
            updates.append((body, doc_id, version))
    return updates, inserts


class ConflictError(RuntimeError):
    """A document or the checkpoint was not at the version this page read."""


# -- PostgreSQL: psycopg 3 -------------------------------------------------------------------

_HORIZON = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 16)"
"""Positions below this are final (see eskit.store.postgres): no commit can still add one."""

_PG_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} "
    "(id text PRIMARY KEY, version integer NOT NULL, body jsonb NOT NULL)"
)
_PG_CHECKPOINT = "SELECT position FROM eskit_checkpoints WHERE name = %s"
_PG_PAGE = (
    "SELECT position, stream_id, version, event_type, data, recorded_at FROM eskit_events "
    f"WHERE position > %s AND position < {_HORIZON} AND stream_type = '{STREAM_TYPE}' "
    "ORDER BY position LIMIT %s"
)
_PG_LOAD = f"SELECT id, version, body FROM {RAW_TABLE} WHERE id = ANY(%s)"
_PG_UPDATE = (
    f"UPDATE {RAW_TABLE} SET body = %s::jsonb, version = version + 1 WHERE id = %s AND version = %s"
)
_PG_INSERT = (
    f"INSERT INTO {RAW_TABLE} (id, version, body) VALUES (%s, 1, %s::jsonb) "
    "ON CONFLICT (id) DO NOTHING"
)
# compare-and-set, like eskit's: a second runner of the projection rolls back its page
_PG_ADVANCE = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (%s, %s, now()) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at WHERE eskit_checkpoints.position = %s"
)


def _pg_stamp(moment: Any) -> str:
    return str(moment.isoformat(timespec="microseconds")[:-6] + "Z")  # "+00:00": UTC session


def raw_pg_catchup(url: str, batch: int) -> tuple[float, int]:
    """Fold eskit's log in ``url`` into :data:`RAW_TABLE`, from its checkpoint to the end
    (the table is created if missing, untimed). Returns ``(seconds, events read)``."""
    with pg_connect(url) as conn:
        conn.execute(_PG_DDL)
        row = conn.execute(_PG_CHECKPOINT, (RAW_CHECKPOINT,)).fetchone()
        position, events = (row[0] if row else 0), 0
        started = time.perf_counter()
        while True:
            position, got = _pg_page(conn, position, batch)
            events += got
            if got < batch:
                return time.perf_counter() - started, events


def _pg_page(conn: psycopg.Connection[Any], after: int, batch: int) -> tuple[int, int]:
    """One page in one transaction; returns the new checkpoint and the events in the page."""
    with conn.transaction(), conn.cursor() as cur:
        page = cur.execute(_PG_PAGE, (after, batch)).fetchall()
        if not page:
            return after, 0
        ids = list(dict.fromkeys(e[1] for e in page))
        stored: dict[str, int] = {}
        documents: dict[str, Body] = {}
        for doc_id, version, body in cur.execute(_PG_LOAD, (ids,)):
            stored[doc_id] = version
            documents[doc_id] = body
        changed = fold_page(page, documents, None, _pg_stamp)
        updates, inserts = _writes(changed, documents, stored)
        if updates:
            cur.executemany(_PG_UPDATE, updates)
            if cur.rowcount != len(updates):
                raise ConflictError(f"{RAW_TABLE}: a document changed since it was read")
        if inserts:
            cur.executemany(_PG_INSERT, inserts)
            if cur.rowcount != len(inserts):
                raise ConflictError(f"{RAW_TABLE}: a document was created meanwhile")
        last = page[-1][0]
        cur.execute(_PG_ADVANCE, (RAW_CHECKPOINT, last, after))
        if cur.rowcount != 1:
            raise ConflictError(f"checkpoint {RAW_CHECKPOINT} moved away from {after}")
    return last, len(page)


def reset_raw_pg(url: str) -> None:
    """Empty the raw read model and drop its checkpoint: the next catch-up starts at 0."""
    with pg_connect(url) as conn, conn.transaction():
        conn.execute(_PG_DDL)
        conn.execute(f"TRUNCATE {RAW_TABLE}")
        conn.execute("DELETE FROM eskit_checkpoints WHERE name = %s", (RAW_CHECKPOINT,))


def raw_pg_documents(url: str) -> list[tuple[str, Body]]:
    """Every raw document, for the checks."""
    with pg_connect(url) as conn:
        return [(i, b) for i, b in conn.execute(f"SELECT id, body FROM {RAW_TABLE}")]


# -- SQLite: stdlib sqlite3 ------------------------------------------------------------------

_SQLITE_DDL = (
    f"CREATE TABLE IF NOT EXISTS {RAW_TABLE} "
    "(id TEXT PRIMARY KEY, version INTEGER NOT NULL, body TEXT NOT NULL)"
)
_SQLITE_CHECKPOINT = "SELECT position FROM eskit_checkpoints WHERE name = ?"
_SQLITE_PAGE = (
    "SELECT position, stream_id, version, event_type, data, recorded_at FROM eskit_events "
    "WHERE position > ? AND stream_type = ? ORDER BY position LIMIT ?"
)
_SQLITE_UPDATE = (
    f"UPDATE {RAW_TABLE} SET body = ?, version = version + 1 WHERE id = ? AND version = ?"
)
_SQLITE_INSERT = (
    f"INSERT INTO {RAW_TABLE} (id, version, body) VALUES (?, 1, ?) ON CONFLICT (id) DO NOTHING"
)
_SQLITE_ADVANCE = (
    "INSERT INTO eskit_checkpoints (name, position, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
    "updated_at = excluded.updated_at WHERE eskit_checkpoints.position = ?"
)


def _sqlite_stamp(moment: str) -> str:
    return moment[:-6] + "Z"  # stored as fixed-width ISO-8601 ending in "+00:00"


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    return conn


def raw_sqlite_catchup(path: Path, batch: int) -> tuple[float, int]:
    """:func:`raw_pg_catchup` with sqlite3 on eskit's SQLite file. Returns ``(seconds,
    events read)``."""
    conn = _sqlite_connect(path)
    try:
        conn.execute(_SQLITE_DDL)
        row = conn.execute(_SQLITE_CHECKPOINT, (RAW_CHECKPOINT,)).fetchone()
        after, events = (row[0] if row else 0), 0
        started = time.perf_counter()
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                page = conn.execute(_SQLITE_PAGE, (after, STREAM_TYPE, batch)).fetchall()
                if page:
                    after = _sqlite_page(conn, page, after)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            events += len(page)
            if len(page) < batch:
                return time.perf_counter() - started, events
    finally:
        conn.close()


def _sqlite_page(conn: sqlite3.Connection, page: Page, after: int) -> int:
    """Fold one page inside the caller's transaction; returns the new checkpoint."""
    ids = list(dict.fromkeys(e[1] for e in page))
    load = f"SELECT id, version, body FROM {RAW_TABLE} WHERE id IN ({','.join('?' * len(ids))})"
    loads = orjson.loads
    stored: dict[str, int] = {}
    documents: dict[str, Body] = {}
    for doc_id, version, body in conn.execute(load, ids):
        stored[doc_id] = version
        documents[doc_id] = loads(body)
    changed = fold_page(page, documents, loads, _sqlite_stamp)
    updates, inserts = _writes(changed, documents, stored)
    if updates and conn.executemany(_SQLITE_UPDATE, updates).rowcount != len(updates):
        raise ConflictError(f"{RAW_TABLE}: a document changed since it was read")
    if inserts and conn.executemany(_SQLITE_INSERT, inserts).rowcount != len(inserts):
        raise ConflictError(f"{RAW_TABLE}: a document was created meanwhile")
    last: int = page[-1][0]
    now = time.strftime("%Y-%m-%dT%H:%M:%S")
    if conn.execute(_SQLITE_ADVANCE, (RAW_CHECKPOINT, last, now, after)).rowcount != 1:
        raise ConflictError(f"checkpoint {RAW_CHECKPOINT} moved away from {after}")
    return last


def reset_raw_sqlite(path: Path) -> None:
    """Empty the raw read model and drop its checkpoint: the next catch-up starts at 0."""
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    try:
        conn.execute(_SQLITE_DDL)
        conn.execute(f"DELETE FROM {RAW_TABLE}")
        conn.execute("DELETE FROM eskit_checkpoints WHERE name = ?", (RAW_CHECKPOINT,))
    finally:
        conn.close()


def raw_sqlite_documents(path: Path) -> list[tuple[str, Body]]:
    """Every raw document, for the checks."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"SELECT id, body FROM {RAW_TABLE}").fetchall()
    finally:
        conn.close()
    return [(i, orjson.loads(b)) for i, b in rows]


# -- self-check ------------------------------------------------------------------------------


def _self_check(n_accounts: int = 200, events_per_account: int = 50) -> None:
    import asyncio
    import tempfile

    from eskit.store import SQLiteEventStore
    from eskit.store.postgres import PostgresEventStore
    from harness import postgres_server
    from workloads.account_events import preload_store
    from workloads.catchup import check_documents, expected_documents

    async def preload(store: Any) -> dict[str, Body]:
        async with store:
            await preload_store(store, n_accounts, events_per_account)
            return await expected_documents(store, n_accounts, events_per_account)

    def check(
        label: str,
        reset: Callable[[], None],
        catch_up: Callable[[int], tuple[float, int]],
        read: Callable[[], list[tuple[str, Body]]],
    ) -> None:
        for size in (100, 1000):
            reset()
            seconds, events = catch_up(size)
            print(f"{label} (pages of {size}): {events:,} events, {events / seconds:,.0f} ev/s")
            check_documents(label, read(), expected)
        again = catch_up(1000)  # caught up: resumes at its checkpoint, finds nothing
        if again[1] != 0:
            raise AssertionError(f"{label}: a second catch-up read {again[1]} events")

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "raw.db"
        expected = asyncio.run(preload(SQLiteEventStore(path)))
        check(
            "raw sqlite3",
            lambda: reset_raw_sqlite(path),
            lambda size: raw_sqlite_catchup(path, size),
            lambda: raw_sqlite_documents(path),
        )
    with postgres_server.start() as cluster, cluster.eskit_database() as url:
        expected = asyncio.run(preload(PostgresEventStore(url)))
        check(
            "raw psycopg",
            lambda: reset_raw_pg(url),
            lambda size: raw_pg_catchup(url, size),
            lambda: raw_pg_documents(url),
        )


if __name__ == "__main__":
    _self_check()
