"""Reading the event log inside a read-model transaction.

Most reads go through the store; these run on a session, for work that must read and write
in one transaction (a rebuild's final catch-up under lock, inline projections reading back
what they appended). On PostgreSQL ``visible_only`` keeps to the read horizon, exactly like
the store's global reads.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eskit.projections.session import Dialect, Session
from eskit.store.records import StoredEvent
from eskit.store.sqlite import event_from_row

__all__ = ["read_log", "visible_head"]

COLUMNS = (
    "position, stream_id, stream_type, version, event_id, event_type, "
    "schema_version, data, metadata, recorded_at"
)
_HORIZON = "(pg_snapshot_xmin(pg_current_snapshot())::text::bigint << 16)"


def records(session: Session, rows: list[tuple[Any, ...]]) -> list[StoredEvent]:
    """Stored events from rows of :data:`COLUMNS`, whatever the backend."""
    if session.dialect == "postgres":
        return [StoredEvent._make(row) for row in rows]
    return [event_from_row(row) for row in rows]


def any_of(dialect: Dialect, column: str, values: Sequence[str] | None, params: list[Any]) -> str:
    """``AND column IN (values)`` for ``dialect`` (empty when ``values`` is None); the
    values go to ``params``."""
    if values is None:
        return ""
    if dialect == "postgres":
        params.append(list(values))
        return f" AND {column} = ANY(%s)"
    params.extend(values)
    return f" AND {column} IN ({','.join('?' * len(values))})"


async def read_log(
    session: Session,
    *,
    after: int,
    limit: int,
    event_types: Sequence[str] | None = None,
    stream_types: Sequence[str] | None = None,
    visible_only: bool = True,
) -> list[StoredEvent]:
    """Up to ``limit`` events after ``after`` in position order, read in the session."""
    m = session.mark
    params: list[Any] = [after]
    sql = f"SELECT {COLUMNS} FROM eskit_events WHERE position > {m}"
    if visible_only and session.dialect == "postgres":
        sql += f" AND position < {_HORIZON}"
    sql += any_of(session.dialect, "event_type", event_types, params)
    sql += any_of(session.dialect, "stream_type", stream_types, params)
    sql += f" ORDER BY position LIMIT {m}"
    params.append(limit)
    return records(session, await session.fetch(sql, params))


async def visible_head(session: Session) -> int:
    """The last position readers may see now, read in the session."""
    horizon = f" WHERE position < {_HORIZON}" if session.dialect == "postgres" else ""
    rows = await session.fetch(f"SELECT coalesce(max(position), 0) FROM eskit_events{horizon}")
    return int(rows[0][0])
