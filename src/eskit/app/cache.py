"""The aggregates a command handler saved last, kept so the next command skips the load.

A cached aggregate may be stale: another process may have appended to its stream since.
That is safe, because the append of the next command expects the cached version and fails
with ConcurrencyError if the stream moved, and the handler then loads the stream afresh.
Holders take an aggregate out while they work on it and put it back only once its events
are stored, so a failed command never leaves a half-changed aggregate behind.

While this process is the only writer, cached aggregates are never stale and are used as
they are. Once one turns out stale (other processes write to the same streams: several
server processes, several instances), the cache says so for ``catch_up_for_s``: holders
then first read what a cached aggregate missed (usually nothing, in one cheap read)
instead of deciding on it blindly, failing at the version check and loading it whole.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Generic, TypeVar

from eskit.domain.aggregate import Aggregate

__all__ = ["AggregateCache"]

A = TypeVar("A", bound=Aggregate)


class AggregateCache(Generic[A]):
    """At most ``size`` aggregates by id, the least recently used dropped first."""

    def __init__(self, size: int, *, catch_up_for_s: float = 60.0) -> None:
        if size < 0:
            raise ValueError("size must not be negative")
        self.size = size
        self.catch_up_for_s = catch_up_for_s
        self._catch_up_until = 0.0
        self._entries: OrderedDict[str, A] = OrderedDict()

    @property
    def needs_catching_up(self) -> bool:
        """Whether cached aggregates should catch up before use (others write too)."""
        return time.monotonic() < self._catch_up_until

    def found_stale(self) -> None:
        """A cached aggregate was behind its stream: others write to these streams."""
        self._catch_up_until = time.monotonic() + self.catch_up_for_s

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
