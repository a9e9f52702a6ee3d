"""A wake-up call for readers in this process when an append commits.

Subscriptions wait on it instead of polling: each store fires its signal right after a
commit. A waiter remembers the generation it last saw, so a fire that happens between its
read and its wait is not lost.
"""

from __future__ import annotations

import asyncio

__all__ = ["AppendSignal"]


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
