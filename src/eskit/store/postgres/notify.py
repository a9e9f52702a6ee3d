"""Telling other processes that events committed, without slowing the writers down.

A ``NOTIFY`` inside the appending transaction would be simplest, but PostgreSQL takes one
database-wide lock at the commit of every notifying transaction, which would line writers up
one behind the other. So the store notifies after the commit instead, from a transaction of
its own, and coalesces: while one notification is on its way, and for ``min_interval_s``
after it, further commits only mark that another is due. The first commit after a quiet spell
is announced at once; under load a process sends at most one notice per interval; the last
commit is always followed by one. The interval (5 ms) bounds what notices cost a busy writer
(each is a transaction on the server and some of the writer's CPU) at 200 a second, while a
listener of a quiet store still hears of each commit at once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

__all__ = ["CHANNEL", "CommitNotifier"]

CHANNEL = "eskit_events"
"""The channel a PostgreSQL store notifies on after its appends commit."""

_log = logging.getLogger(__name__)


class CommitNotifier:
    """Sends ``send(position)`` after commits, at most one at a time, never dropping the last."""

    def __init__(
        self, send: Callable[[int], Awaitable[object]], *, min_interval_s: float = 0.005
    ) -> None:
        self._send = send
        self.min_interval_s = min_interval_s
        self._due = 0
        self._task: asyncio.Task[None] | None = None

    def committed(self, position: int) -> None:
        """Note a commit that ended at ``position``; a notification will follow."""
        self._due = max(self._due, position)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            while self._due:
                position, self._due = self._due, 0
                try:
                    await self._send(position)
                except Exception as exc:  # listeners still poll: a lost notice only delays them
                    _log.warning("could not notify listeners of commits: %s", exc)
                await asyncio.sleep(self.min_interval_s)
        finally:
            self._task = None

    async def close(self) -> None:
        """Send what is due, then stop."""
        task = self._task
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
