"""The one thread that writes to a SQLite file, committing concurrent work together.

SQLite admits one writer at a time and a durable commit costs an fsync, so appends that
arrive while a commit is in progress wait anyway. This writer takes every piece of work
queued meanwhile into the next transaction, each inside its own savepoint, and commits them
with a single fsync (group commit). Each piece stays atomic: if it raises, only its own
writes are rolled back; its caller hears of its outcome only after the shared COMMIT
returned, so an acknowledged append is on disk.

A unit of work that spans several awaits (``store.transaction()``) is one piece of work
too: the writer thread opens its savepoint, lends the connection to the event loop
(:class:`Handover`) and waits until the unit of work ends, then releases or rolls back its
savepoint and commits with the rest. Its statements run on the event loop's thread while
the writer thread waits, so the connection is never used by two threads at once.
"""

from __future__ import annotations

import asyncio
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from eskit.errors import StoreUnavailableError

__all__ = ["Discard", "Handover", "SQLiteWriter"]

T = TypeVar("T")
Work = Callable[[sqlite3.Connection], Any]


class Discard(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised by a piece of work to roll its writes back yet answer ``result``."""

    def __init__(self, result: object) -> None:
        super().__init__("discard")
        self.result = result


@dataclass(slots=True)
class _Job(Generic[T]):
    fn: Callable[[sqlite3.Connection], T]
    future: asyncio.Future[T]
    loop: asyncio.AbstractEventLoop
    grouped: bool
    outcome: tuple[str, Any] = field(default=("failed", None))


_STOP = object()


def _resolve(future: asyncio.Future[Any], ok: bool, value: Any) -> None:
    if future.done():  # the caller was cancelled; the work itself was done or not, as is
        return
    if ok:
        future.set_result(value)
    else:
        future.set_exception(value)


class SQLiteWriter:
    """Owns the write connection in a thread of its own."""

    def __init__(self, connect: Callable[[], sqlite3.Connection], *, max_group: int = 256) -> None:
        self._connect = connect
        self._max_group = max_group
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: sqlite3.Connection | None = None

    def start(self) -> None:
        """Open the connection in the writer thread; raises what opening it raised."""
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            try:
                self._conn = self._connect()
            except BaseException as exc:
                failure.append(exc)
                return
            finally:
                ready.set()
            self._serve(self._conn)

        self._thread = threading.Thread(target=run, name="eskit-sqlite-writer", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]

    async def stop(self) -> None:
        """Finish queued work, close the connection and end the thread."""
        thread, self._thread = self._thread, None
        if thread is None:
            return
        self._queue.put(_STOP)
        await asyncio.to_thread(thread.join)

    @property
    def queued(self) -> int:
        """Jobs waiting for the writer thread (approximately: it takes them meanwhile)."""
        return self._queue.qsize()

    async def transaction(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` inside a write transaction shared with other queued work."""
        return await self.submit(fn)

    async def alone(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` by itself, outside any transaction (it manages its own)."""
        return await self.submit(fn, grouped=False)

    def submit(
        self, fn: Callable[[sqlite3.Connection], T], *, grouped: bool = True
    ) -> asyncio.Future[T]:
        """Queue ``fn``; the future resolves after its transaction committed (or failed)."""
        if self._thread is None:
            raise StoreUnavailableError("the SQLite store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, future, loop, grouped))
        return future

    # -- the writer thread -------------------------------------------------------------

    def _serve(self, conn: sqlite3.Connection) -> None:
        try:
            pending: Any = None
            while True:
                job = pending if pending is not None else self._queue.get()
                pending = None
                if job is _STOP:
                    return
                if not job.grouped:
                    self._run_alone(conn, job)
                    continue
                group = [job]
                while len(group) < self._max_group:
                    try:
                        nxt = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if nxt is _STOP or not nxt.grouped:
                        pending = nxt
                        break
                    group.append(nxt)
                self._run_group(conn, group)
        finally:
            conn.close()

    @staticmethod
    def _deliver(job: _Job[Any], ok: bool, value: Any) -> None:
        job.loop.call_soon_threadsafe(_resolve, job.future, ok, value)

    def _run_alone(self, conn: sqlite3.Connection, job: _Job[Any]) -> None:
        try:
            self._deliver(job, True, job.fn(conn))
        except BaseException as exc:
            self._deliver(job, False, exc)

    def _run_group(self, conn: sqlite3.Connection, group: list[_Job[Any]]) -> None:
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            failure = StoreUnavailableError(f"SQLite refused a write transaction: {exc}")
            for job in group:
                self._deliver(job, False, failure)
            return
        alone = len(group) == 1
        try:
            for job in group:
                job.outcome = self._run_in_savepoint(conn, job, use_savepoint=not alone)
            wrote = any(job.outcome[0] == "kept" for job in group)
            conn.execute("COMMIT" if wrote else "ROLLBACK")
        except sqlite3.Error as exc:
            # an I/O error, a full disk: SQLite may have ended the transaction itself
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            failure = StoreUnavailableError(f"SQLite could not commit: {exc}")
            for job in group:
                self._deliver(job, False, failure)
            return
        for job in group:
            kind, value = job.outcome
            self._deliver(job, kind != "failed", value)

    @staticmethod
    def _run_in_savepoint(
        conn: sqlite3.Connection, job: _Job[Any], *, use_savepoint: bool
    ) -> tuple[str, Any]:
        if use_savepoint:
            conn.execute("SAVEPOINT eskit_job")
        try:
            value = job.fn(conn)
        except Discard as discard:
            outcome: tuple[str, Any] = ("discarded", discard.result)
        except BaseException as exc:
            outcome = ("failed", exc)
        else:
            if use_savepoint:
                conn.execute("RELEASE eskit_job")
            return ("kept", value)
        if use_savepoint:
            conn.execute("ROLLBACK TO eskit_job")
            conn.execute("RELEASE eskit_job")
        return outcome


class _Abandoned(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The unit of work stopped waiting before the connection was lent to it."""


class Handover:
    """Lends the writer's connection to one unit of work on the event loop.

    Submit the handover as a piece of work; await :attr:`granted` for the connection (the
    writer thread is then inside the transaction and waits); call :meth:`finish` exactly
    once when the unit of work is done, with the error that ended it (its savepoint is
    then rolled back) or None (kept). The piece of work's future resolves after COMMIT.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.granted: asyncio.Future[sqlite3.Connection] = loop.create_future()
        self._verdict: queue.SimpleQueue[BaseException | None] = queue.SimpleQueue()

    def __call__(self, conn: sqlite3.Connection) -> None:
        """In the writer thread: lend ``conn`` and wait until the unit of work ends."""
        self._loop.call_soon_threadsafe(self._grant, conn)
        while True:
            try:
                verdict = self._verdict.get(timeout=1.0)
            except queue.Empty:
                if self._loop.is_closed():  # nobody is left to finish it
                    raise _Abandoned() from None
                continue
            if verdict is not None:
                raise verdict
            return

    def _grant(self, conn: sqlite3.Connection) -> None:
        if self.granted.done():  # the caller gave up while it was queued
            self._verdict.put(_Abandoned())
        else:
            self.granted.set_result(conn)

    def finish(self, error: BaseException | None) -> None:
        """End the unit of work: keep its writes (None) or roll them back (an error)."""
        self._verdict.put(error)
