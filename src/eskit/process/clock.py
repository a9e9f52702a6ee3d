"""Time as the process layer sees it: the wall clock, or one a test moves by hand."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock"]


class Clock(Protocol):
    """Where "now" comes from (UTC-aware)."""

    def now(self) -> datetime:
        """The current time, UTC."""
        ...


class SystemClock:
    """The wall clock."""

    def now(self) -> datetime:
        """See Clock.now."""
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to: deadlines in tests fire when the test says.

    It starts at the wall clock's time (or ``start``): sagas count deadlines from the time
    their events were recorded, which is the wall clock's.
    """

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        if self._now.tzinfo is None:
            raise ValueError("ManualClock needs a timezone-aware start")

    def now(self) -> datetime:
        """See Clock.now."""
        return self._now

    def advance(self, by: timedelta) -> datetime:
        """Move forward by ``by``; returns the new time."""
        if by < timedelta(0):
            raise ValueError("a clock does not go back")
        self._now += by
        return self._now

    def set(self, to: datetime) -> None:
        """Move to ``to`` (not before the current time)."""
        if to < self._now:
            raise ValueError("a clock does not go back")
        self._now = to
