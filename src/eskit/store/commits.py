"""Hearing of commits: in this process (a signal), and from other processes (a listener).

Subscriptions wait on a store's :class:`AppendSignal` instead of polling: each store fires
it right after a commit. A waiter remembers the generation it last saw, so a fire that
happens between its read and its wait is not lost. Commits made by other processes reach
the signal through the store's :class:`CommitListener` (PostgreSQL ``LISTEN``, a watch
of the SQLite file), when the store has one.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

__all__ = ["AppendSignal", "CommitListener"]


class AppendSignal:
    """Counts commits and wakes whoever waits for the next one."""

    def __init__(self) -> None:
        self.generation = 0
        self.position = 0
        self._event: asyncio.Event | None = None

    def fire(self, position: int) -> None:
        """Record a commit that ended at ``position`` and wake every waiter."""
        self.generation += 1
        self.position = max(self.position, position)
        event, self._event = self._event, None
        if event is not None:
            event.set()

    async def wait(self, seen: int, timeout_s: float | None) -> bool:
        """Wait until the generation passes ``seen``; False if ``timeout_s`` ran out first."""
        if self.generation != seen:
            return True
        if self._event is None:
            self._event = asyncio.Event()
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), timeout_s)
        except TimeoutError:
            return self.generation != seen
        return True


class CommitListener(Protocol):
    """Fires a store's :class:`AppendSignal` when another process commits to the store.

    ``connected`` is false while it cannot hear (readers then fall back to polling), and
    ``last_error`` says why.
    """

    connected: bool
    last_error: str | None

    async def start(self) -> None:
        """Start listening; returns once listening (or after a bounded wait, still trying)."""
        ...

    async def stop(self) -> None:
        """Stop listening and release what it holds."""
        ...
