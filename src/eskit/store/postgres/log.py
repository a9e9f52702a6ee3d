"""The event log through an executor: append parameters, and reading the log back.

The store sends these through its pool, a unit of work through its transaction's
connection; the SQL is in ``sql``.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from eskit.store.encoding import EncodedEvent
from eskit.store.postgres import sql
from eskit.store.postgres.rows import Executor
from eskit.store.records import (
    EventPayload,
    ExpectedState,
    ExpectedVersion,
    LogPage,
    LogSpan,
    StoredEvent,
)

_payload = functools.partial(tuple.__new__, EventPayload)
"""An EventPayload from a row, without a Python-level call per row (loads read thousands)."""

__all__ = [
    "append_params",
    "count",
    "find",
    "payloads",
    "read_batch",
    "read_page",
    "read_stream",
    "stream_version",
]


def append_params(
    stream_id: str,
    batch: Sequence[EncodedEvent],
    expected: ExpectedVersion,
    stream_type: str,
    offset: int = 0,
) -> dict[str, Any]:
    """The parameters of ``sql.append_statement`` for ``batch``; ``offset`` events of the
    same transaction were appended before it."""
    params: dict[str, Any] = {"stream": stream_id, "stream_type": stream_type, "offset": offset}
    if len(batch) == 1:
        (one,) = batch
        params.update(
            id=one.event_id,
            type=one.event_type,
            schema_version=one.schema_version,
            data=one.data,
            metadata=one.metadata,
        )
    else:
        params.update(
            id=[e.event_id for e in batch],
            type=[e.event_type for e in batch],
            schema_version=[e.schema_version for e in batch],
            data=[e.data for e in batch],
            metadata=[e.metadata for e in batch],
        )
    if isinstance(expected, int) or expected is ExpectedState.NO_STREAM:
        params["expected"] = 0 if expected is ExpectedState.NO_STREAM else expected
    return params


async def find(run: Executor, event_ids: Sequence[object]) -> list[StoredEvent]:
    """The stored events with these ids (missing ones are left out)."""
    if not event_ids:
        return []
    rows = await run.fetch(sql.EVENTS_BY_ID, ([str(i) for i in event_ids],))
    return [StoredEvent(*row) for row in rows]


async def read_stream(
    run: Executor,
    stream_id: str,
    from_version: int = 1,
    to_version: int | None = None,
    until: datetime | None = None,
) -> list[StoredEvent]:
    """One stream's events in version order."""
    statement, params = sql.stream_query(
        sql.EVENT_COLUMNS, stream_id, from_version, to_version, until
    )
    return [StoredEvent(*row) for row in await run.fetch(statement, params)]


async def payloads(
    run: Executor,
    stream_id: str,
    from_version: int = 1,
    to_version: int | None = None,
    until: datetime | None = None,
) -> list[EventPayload]:
    """What folding one stream needs, in version order."""
    statement, params = sql.stream_query(
        sql.PAYLOAD_COLUMNS, stream_id, from_version, to_version, until
    )
    return list(map(_payload, await run.fetch(statement, params)))


async def read_batch(
    run: Executor,
    after: int,
    limit: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> list[StoredEvent]:
    """Up to ``limit`` events after ``after`` below the read horizon, in position order."""
    statement, params = sql.log_query(after, limit, stream_types, event_types)
    return [StoredEvent(*row) for row in await run.fetch(statement, params)]


async def read_page(
    run: Executor,
    after: int,
    limit: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
    *,
    visible_only: bool = True,
) -> LogPage:
    """A page and the head, from one snapshot, in one round trip."""
    statement, params = sql.page_query(
        after, limit, stream_types, event_types, visible_only=visible_only
    )
    rows = await run.fetch(statement, params)
    head = int(rows[0][0])
    if rows[0][1] is None:  # the page is empty: one row of the head and NULLs
        return LogPage([], head)
    return LogPage([StoredEvent(*row[1:]) for row in rows], head)


async def count(
    run: Executor,
    after: int,
    up_to: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> LogSpan:
    """How many events lie in ``(after, up_to]``, and when the oldest was recorded."""
    statement, params = sql.count_query(after, up_to, stream_types, event_types)
    found, oldest = (await run.fetch(statement, params))[0]
    return LogSpan(int(found), oldest)


async def stream_version(run: Executor, stream_id: str) -> int:
    """The stream's version (0 when it does not exist)."""
    return int((await run.fetch(sql.STREAM_VERSION, (stream_id,)))[0][0])
