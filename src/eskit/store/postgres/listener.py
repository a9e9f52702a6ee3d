"""Hearing of commits made by other processes: PostgreSQL ``LISTEN``.

The store of every writing process notifies the ``eskit_events`` channel after its commits
(see ``notify``). A listener keeps one connection listening and fires the
local store's append signal on each notice, so subscriptions here wake as if the append had
been local. A lost connection is re-established with backoff; meanwhile subscriptions fall
back to polling and report the connection as lost.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import psycopg

from eskit.store.commits import AppendSignal
from eskit.store.postgres.notify import CHANNEL

__all__ = ["PostgresListener"]

_log = logging.getLogger(__name__)


class PostgresListener:
    """Fires ``signal`` whenever another process notifies that events committed."""

    def __init__(
        self, url: str, signal: AppendSignal, *, backoff_s: float = 0.2, max_backoff_s: float = 5.0
    ) -> None:
        self.url = url
        self.signal = signal
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.connected = False
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._ready = asyncio.Event()

    async def start(self, *, wait_s: float = 5.0) -> None:
        """Start listening; waits (up to ``wait_s``) until the first LISTEN is in place."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        try:
            await asyncio.wait_for(self._ready.wait(), wait_s)
        except TimeoutError:
            _log.warning("not listening for commits yet: %s", self.last_error)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.connected = False

    async def _run(self) -> None:
        delay = self.backoff_s
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                _log.warning("lost the LISTEN connection (%s); retrying in %.1f s", exc, delay)
            if self.connected:  # it worked for a while: start the backoff over
                delay = self.backoff_s
            self.connected = False
            await asyncio.sleep(delay)
            delay = min(delay * 2, self.max_backoff_s)

    async def _listen(self) -> None:
        conn: Any = await psycopg.AsyncConnection.connect(self.url, autocommit=True)
        async with conn:
            await conn.execute(f"LISTEN {CHANNEL}")
            self.connected = True
            self.last_error = None
            self._ready.set()
            # notices sent while we were away are lost: wake everyone to look for themselves
            self.signal.fire(self.signal.position)
            async for notice in conn.notifies():
                self.signal.fire(_position(notice.payload))


def _position(payload: str) -> int:
    try:
        return int(payload)
    except ValueError:
        return 0
