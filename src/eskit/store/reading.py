"""Reading helpers shared by the adapters: the global log in batches, stream queries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Collection
from datetime import datetime
from typing import Any, Protocol

from eskit.store.records import StoredEvent

__all__ = ["BatchReader", "read_in_batches", "stream_query"]


class BatchReader(Protocol):
    """``EventStore.read_batch``, as the adapters implement it."""

    def __call__(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> Awaitable[list[StoredEvent]]: ...


async def read_in_batches(
    read_batch: BatchReader,
    *,
    after: int,
    batch_size: int,
    stream_types: Collection[str] | None,
    event_types: Collection[str] | None,
) -> AsyncIterator[StoredEvent]:
    """Every event after ``after``, one ``read_batch`` call per ``batch_size`` events."""
    while True:
        batch = await read_batch(
            after=after, limit=batch_size, stream_types=stream_types, event_types=event_types
        )
        for event in batch:
            yield event
        if len(batch) < batch_size:
            return
        after = batch[-1].position


def stream_query(
    columns: str,
    stream_id: str,
    from_version: int,
    to_version: int | None,
    until: datetime | None,
    *,
    mark: str,
    time_value: Callable[[datetime], Any] = lambda moment: moment,
) -> tuple[str, list[Any]]:
    """SQL and parameters reading one stream in version order, bounded by version or time.

    ``mark`` is the driver's placeholder; ``time_value`` turns ``until`` into what the
    table stores.
    """
    sql = f"SELECT {columns} FROM eskit_events WHERE stream_id = {mark} AND version >= {mark}"
    params: list[Any] = [stream_id, from_version]
    if to_version is not None:
        sql += f" AND version <= {mark}"
        params.append(to_version)
    if until is not None:
        sql += f" AND recorded_at <= {mark}"
        params.append(time_value(until))
    return sql + " ORDER BY version", params
