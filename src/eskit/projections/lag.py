"""Measuring how far a projection is behind the log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eskit.projections.database import ReadDatabase
from eskit.projections.log import any_of

__all__ = ["measure_lag"]


async def measure_lag(
    db: ReadDatabase,
    after: int,
    head: int,
    *,
    event_types: Sequence[str] | None = None,
    stream_types: Sequence[str] | None = None,
) -> tuple[int, float]:
    """Events in ``(after, head]`` that the projection reads, and the age of the oldest in seconds.

    Positions are not dense on PostgreSQL, so lag is counted, never subtracted.
    """
    if head <= after:
        return 0, 0.0
    mark = "?" if db.dialect == "sqlite" else "%s"
    sql = (
        f"SELECT count(*), min(recorded_at) FROM eskit_events "
        f"WHERE position > {mark} AND position <= {mark}"
    )
    params: list[Any] = [after, head]
    sql += any_of(db.dialect, "event_type", event_types, params)
    sql += any_of(db.dialect, "stream_type", stream_types, params)
    count, oldest = (await db.query(sql, params))[0]
    if not count:
        return 0, 0.0
    if not isinstance(oldest, datetime):
        oldest = datetime.fromisoformat(oldest)
    return int(count), max(0.0, (datetime.now(UTC) - oldest).total_seconds())
