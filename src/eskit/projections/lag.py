"""Measuring how far a projection is behind the log."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from eskit.store.port import EventStore

__all__ = ["measure_lag"]


async def measure_lag(
    store: EventStore,
    after: int,
    head: int,
    *,
    event_types: Sequence[str] | None = None,
    stream_types: Sequence[str] | None = None,
) -> tuple[int, float]:
    """Events in ``(after, head]`` that the projection reads, and the age of the oldest in seconds.

    Positions are not dense on every backend, so lag is counted, never subtracted.
    """
    if head <= after:
        return 0, 0.0
    span = await store.count_events(
        after=after, up_to=head, event_types=event_types, stream_types=stream_types
    )
    if not span.count or span.oldest is None:
        return 0, 0.0
    return span.count, max(0.0, (datetime.now(UTC) - span.oldest).total_seconds())
