"""Hearing of commits made to a SQLite file by other processes.

SQLite has no notifications, but ``PRAGMA data_version`` changes whenever another
connection commits, and reading it costs no query of the log. A watcher reads it every few
milliseconds on a connection of its own and fires the store's append signal when it moves,
so a runner in another process than the writers wakes within that interval instead of its
much longer polling interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from eskit.store.commits import AppendSignal

__all__ = ["SQLiteChangeWatcher"]

_log = logging.getLogger(__name__)
T = TypeVar("T")


class SQLiteChangeWatcher:
    """Fires ``signal`` when another connection commits to the file at ``path``.

    A :class:`~eskit.store.commits.CommitListener`: ``connected`` while it watches.
    """

    def __init__(self, path: Path, signal: AppendSignal, *, interval_s: float = 0.01) -> None:
        self.path = path
        self.signal = signal
        self.interval_s = interval_s
        self._conn: sqlite3.Connection | None = None
        self._task: asyncio.Task[None] | None = None
        # one thread owns the connection: a read still running when the watcher stops
        # finishes before the close that is queued behind it (closing under it crashes)
        self._thread: ThreadPoolExecutor | None = None
        self.connected = False
        self.last_error: str | None = None

    async def start(self) -> None:
        """Open the watching connection and start watching."""
        if self._task is not None:
            return
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="eskit-sqlite-watch")
        conn = self._conn = await self._call(self._connect)
        version = await self._call(lambda: _version(conn))
        self._task = asyncio.get_running_loop().create_task(self._run(conn, version))
        self.connected = True

    async def _call(self, fn: Callable[[], T]) -> T:
        assert self._thread is not None
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        conn.execute("PRAGMA query_only=1")
        return conn

    async def _run(self, conn: sqlite3.Connection, seen: int) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                version = await self._call(lambda: _version(conn))
            except sqlite3.Error as exc:  # a busy file: the runner's own polling covers it
                _log.debug("could not read data_version: %s", exc)
                continue
            if version != seen:
                seen = version
                self.signal.fire(self.signal.position)

    async def stop(self) -> None:
        """Stop watching and close the connection."""
        task, self._task = self._task, None
        self.connected = False
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        conn, self._conn = self._conn, None
        thread, self._thread = self._thread, None
        if thread is not None:
            if conn is not None:
                await asyncio.get_running_loop().run_in_executor(thread, conn.close)
            thread.shutdown(wait=True)


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA data_version").fetchone()[0])
