"""The aggregates a command handler saved last, kept so the next command skips the load.

A cached aggregate may be stale: another process may have appended to its stream since.
That is safe, because the append of the next command expects the cached version and fails
with ConcurrencyError if the stream moved, and the handler then loads the stream afresh.
Holders take an aggregate out while they work on it and put it back only once its events
are stored, so a failed command never leaves a half-changed aggregate behind.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Generic, TypeVar

from eskit.domain.aggregate import Aggregate

__all__ = ["AggregateCache"]

A = TypeVar("A", bound=Aggregate)


class AggregateCache(Generic[A]):
    """At most ``size`` aggregates by id, the least recently used dropped first."""

    def __init__(self, size: int) -> None:
        if size < 0:
            raise ValueError("size must not be negative")
        self.size = size
        self._entries: OrderedDict[str, A] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def take(self, aggregate_id: str) -> A | None:
        """Remove and return the aggregate, if it is cached."""
        return self._entries.pop(aggregate_id, None)

    def put(self, aggregate: A) -> None:
        """Keep ``aggregate`` (with nothing pending), dropping the oldest one over ``size``."""
        if self.size == 0 or aggregate.pending_events:
            return
        self._entries[aggregate.id] = aggregate
        self._entries.move_to_end(aggregate.id)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def drop(self, aggregate_id: str) -> None:
        """Forget the aggregate, if it is cached."""
        self._entries.pop(aggregate_id, None)
