"""The event log on a SQLite connection: appending, and reading it back.

Plain functions of a connection: the store calls them on its writer thread or a reader
thread, a unit of work on the connection the writer lent it.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from itertools import starmap

from eskit.errors import ConcurrencyError, DuplicateEventError
from eskit.store.encoding import EncodedEvent
from eskit.store.expected import check_expected_version
from eskit.store.idempotency import original_outcome
from eskit.store.records import (
    AppendResult,
    EventPayload,
    ExpectedVersion,
    LogPage,
    LogSpan,
    StoredEvent,
)
from eskit.store.sqlite import sql
from eskit.store.sqlite.values import event_from_row, timestamp

_payload = functools.partial(tuple.__new__, EventPayload)
"""An EventPayload from a row, without a Python-level call per row (loads read thousands)."""

__all__ = [
    "append",
    "count",
    "find",
    "head",
    "payloads",
    "read_batch",
    "read_page",
    "read_stream",
]


def append(
    conn: sqlite3.Connection,
    stream_id: str,
    batch: Sequence[EncodedEvent],
    expected: ExpectedVersion,
    stream_type: str,
) -> AppendResult:
    """Append ``batch`` inside the connection's write transaction; the caller commits.

    A repeat of an append that is stored already answers its first outcome
    (``deduplicated``); the caller must then roll back whatever part of it got in.
    """
    last = conn.execute(sql.LAST_OF_STREAM, (stream_id,)).fetchone()
    current, last_in_stream, known_type = last if last else (0, 0, None)
    try:
        check_expected_version(stream_id, expected, current)
    except ConcurrencyError:
        # a retry of an append that already succeeded reports its first outcome
        outcome = original_outcome(stream_id, batch, find(conn, [e.event_id for e in batch]))
        if outcome is None:
            raise
        return outcome
    if not batch:
        return AppendResult(stream_id, current, last_in_stream)
    now = timestamp(datetime.now(UTC))
    kind = stream_type if known_type is None else known_type
    rows = [
        (
            stream_id,
            kind,
            current + i + 1,
            str(e.event_id),
            e.event_type,
            e.schema_version,
            e.data,
            e.metadata,
            now,
        )
        for i, e in enumerate(batch)
    ]
    # SQLite numbers the rows (max rowid + 1, under the write lock): no query needed
    try:
        if len(rows) == 1:
            last_position = conn.execute(sql.INSERT_EVENT, rows[0]).lastrowid
        else:
            conn.executemany(sql.INSERT_EVENT, rows)
            (last_position,) = conn.execute(sql.LAST_INSERTED).fetchone()
    except sqlite3.IntegrityError as exc:
        outcome = original_outcome(stream_id, batch, find(conn, [e.event_id for e in batch]))
        if outcome is None:
            raise DuplicateEventError("?", f"integrity error: {exc}") from exc
        return outcome
    assert last_position is not None
    return AppendResult(stream_id, current + len(batch), last_position)


def find(conn: sqlite3.Connection, event_ids: Sequence[object]) -> list[StoredEvent]:
    """The stored events with these ids (missing ones are left out)."""
    ids = [str(i) for i in event_ids]
    if not ids:
        return []
    return [event_from_row(r) for r in conn.execute(sql.events_by_id(len(ids)), ids)]


def read_stream(
    conn: sqlite3.Connection,
    stream_id: str,
    from_version: int = 1,
    to_version: int | None = None,
    until: datetime | None = None,
) -> list[StoredEvent]:
    """One stream's events in version order."""
    statement, params = sql.stream_query(
        sql.EVENT_COLUMNS, stream_id, from_version, to_version, _moment(until)
    )
    return list(starmap(StoredEvent, conn.execute(statement, params)))


def payloads(
    conn: sqlite3.Connection,
    stream_id: str,
    from_version: int = 1,
    to_version: int | None = None,
    until: datetime | None = None,
) -> list[EventPayload]:
    """What folding one stream needs, in version order."""
    statement, params = sql.stream_query(
        sql.PAYLOAD_COLUMNS, stream_id, from_version, to_version, _moment(until)
    )
    return list(map(_payload, conn.execute(statement, params)))


def _moment(until: datetime | None) -> str | None:
    return None if until is None else timestamp(until)


def read_batch(
    conn: sqlite3.Connection,
    after: int,
    limit: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> list[StoredEvent]:
    """Up to ``limit`` events after ``after``, in position order."""
    statement, params = sql.log_query(after, limit, stream_types, event_types)
    return list(starmap(StoredEvent, conn.execute(statement, params)))


def read_page(
    conn: sqlite3.Connection,
    after: int,
    limit: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> LogPage:
    """A batch and the head, read in one read transaction (so they agree)."""
    in_transaction = conn.in_transaction
    if not in_transaction:
        conn.execute("BEGIN")
    try:
        head = int(conn.execute(sql.HEAD).fetchone()[0])
        events = read_batch(conn, after, limit, stream_types, event_types)
    finally:
        if not in_transaction:
            conn.execute("COMMIT")
    return LogPage(events, head)


def count(
    conn: sqlite3.Connection,
    after: int,
    up_to: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> LogSpan:
    """How many events lie in ``(after, up_to]``, and when the oldest was recorded."""
    statement, params = sql.count_query(after, up_to, stream_types, event_types)
    found, oldest = conn.execute(statement, params).fetchone()
    return LogSpan(int(found), None if oldest is None else datetime.fromisoformat(oldest))


def head(conn: sqlite3.Connection) -> int:
    """The last position (committed writes are visible at once)."""
    return int(conn.execute(sql.HEAD).fetchone()[0])
