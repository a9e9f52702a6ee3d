"""Client-side group commit for PostgreSQL appends.

Concurrent appends from one process to *different* streams are sent as one statement, one
transaction and one WAL flush, instead of one each: the server does the same version check
per append (each append is written whole or not at all, independently of the others), and
every caller gets its own result or error. An append that is alone goes straight through,
so a single writer pays nothing for this.

A few appends are "senders" at a time: a sender takes the appends queued so far (at most
one per stream), runs them together and resolves their futures; the others wait. If the
combined statement fails as a whole (two processes raced on a stream, a reused event id),
each append of it is retried alone, which sorts out who won and who gets which error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import psycopg

from eskit.errors import StoreUnavailableError
from eskit.store.encoding import MAX_EVENTS_PER_APPEND, EncodedEvent
from eskit.store.records import AppendResult, ExpectedState, ExpectedVersion

__all__ = ["AppendCombiner", "PendingAppend", "combined_append"]


@dataclass(slots=True)
class PendingAppend:
    """One caller's append, waiting for a sender."""

    stream_id: str
    events: list[EncodedEvent]
    expected: ExpectedVersion
    stream_type: str
    future: asyncio.Future[AppendResult] = field(repr=False)


_MODE = {ExpectedState.ANY: 1, ExpectedState.STREAM_EXISTS: 2, ExpectedState.NO_STREAM: 0}


def combined_append(appends: Sequence[PendingAppend]) -> dict[str, Any]:
    """Parameters of ``sql.COMBINED_APPEND`` for ``appends`` (distinct streams)."""
    params: dict[str, list[Any]] = {
        k: []
        for k in (
            "r_stream",
            "r_type",
            "r_mode",
            "r_expected",
            "r_first",
            "id",
            "type",
            "schema_version",
            "data",
            "metadata",
            "request",
        )
    }
    ordinal = 1
    for number, pending in enumerate(appends, start=1):
        expected = pending.expected
        params["r_stream"].append(pending.stream_id)
        params["r_type"].append(pending.stream_type)
        params["r_mode"].append(0 if isinstance(expected, int) else _MODE[expected])
        params["r_expected"].append(expected if isinstance(expected, int) else 0)
        params["r_first"].append(ordinal)
        for event in pending.events:
            params["id"].append(event.event_id)
            params["type"].append(event.event_type)
            params["schema_version"].append(event.schema_version)
            params["data"].append(event.data)
            params["metadata"].append(event.metadata)
            params["request"].append(number)
        ordinal += len(pending.events)
    return params


_NO_FUTURE: asyncio.Future[AppendResult] = cast("asyncio.Future[AppendResult]", None)

RunAlone = Callable[[PendingAppend], Awaitable[AppendResult]]
RunCombined = Callable[[Sequence[PendingAppend]], Awaitable[list[tuple[Any, ...]]]]


class AppendCombiner:
    """Queues concurrent appends and sends them in combined statements."""

    def __init__(
        self,
        run_alone: RunAlone,
        run_combined: RunCombined,
        *,
        max_senders: int = 4,
        max_appends: int = 256,
        max_events: int = 8192,
    ) -> None:
        self._run_alone = run_alone
        self._run_combined = run_combined
        self._max_senders = max_senders
        self._max_appends = max_appends
        self._max_events = min(max_events, MAX_EVENTS_PER_APPEND)
        self._queue: deque[PendingAppend] = deque()
        self._senders = 0
        self._background: set[asyncio.Task[None]] = set()
        self.statements = 0
        """Statements sent so far (combined or alone); with ``appends``, shows the sharing."""
        self.appends = 0
        """Appends sent so far."""

    @property
    def queued(self) -> int:
        """Appends waiting to be sent."""
        return len(self._queue)

    async def append(
        self,
        stream_id: str,
        events: list[EncodedEvent],
        expected: ExpectedVersion,
        stream_type: str,
    ) -> AppendResult:
        """Append through the queue; same outcome as appending alone."""
        if not self._queue and self._senders == 0:
            # nothing else in flight: no one to share with, so no queue and no future
            self._senders += 1
            self.statements += 1
            self.appends += 1
            try:
                return await self._run_alone(
                    PendingAppend(stream_id, events, expected, stream_type, _NO_FUTURE)
                )
            finally:
                self._senders -= 1
                self._keep_draining()
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()
        mine = PendingAppend(stream_id, events, expected, stream_type, future)
        self._queue.append(mine)
        if self._senders < self._max_senders:
            self._senders += 1
            try:
                while not future.done() and self._queue:
                    await self._send_safely(self._take())
            finally:
                self._senders -= 1
                self._keep_draining()
        return await future

    def _keep_draining(self) -> None:
        # callers that queued while every sender was busy wait on their futures only:
        # someone must go on sending for them
        if self._queue and self._senders < self._max_senders:
            self._senders += 1
            task = asyncio.get_running_loop().create_task(self._drain())
            self._background.add(task)
            task.add_done_callback(self._background.discard)

    async def _drain(self) -> None:
        try:
            while self._queue:
                await self._send_safely(self._take())
        finally:
            self._senders -= 1
            self._keep_draining()

    def _take(self) -> list[PendingAppend]:
        """The oldest queued appends, one per stream, within the size limits."""
        taken: list[PendingAppend] = []
        skipped: list[PendingAppend] = []
        streams: set[str] = set()
        events = 0
        while self._queue and len(taken) < self._max_appends:
            pending = self._queue.popleft()
            if pending.future.done():
                continue  # its caller was cancelled
            too_big = taken and events + len(pending.events) > self._max_events
            if pending.stream_id in streams or too_big:
                skipped.append(pending)
                continue
            taken.append(pending)
            streams.add(pending.stream_id)
            events += len(pending.events)
        self._queue.extendleft(reversed(skipped))
        return taken

    async def _send_safely(self, appends: list[PendingAppend]) -> None:
        # a failure is delivered to the futures of the appends it concerns; the sender
        # itself goes on (its own append may still be queued, and may still succeed)
        with contextlib.suppress(Exception):
            await self._send(appends)

    async def _send(self, appends: list[PendingAppend]) -> None:
        if not appends:
            return
        self.statements += 1
        self.appends += len(appends)
        if len(appends) == 1:
            await self._one(appends[0])
            return
        try:
            rows = await self._run_combined(appends)
        except psycopg.errors.IntegrityError:
            rows = None  # a race or a reused id somewhere: let each append find out alone
        except Exception as exc:
            for pending in appends:
                _fail(pending.future, exc)
            raise
        except BaseException:
            # the sender's own task was cancelled mid-statement: the others were not, and
            # must not hear "cancelled"; their appends may or may not have been written
            interrupted = StoreUnavailableError(
                "the statement carrying this append was interrupted; retrying the same "
                "append is safe, its event ids are recognised if it was written"
            )
            for pending in appends:
                _fail(pending.future, interrupted)
            raise
        written = {} if rows is None else _results_by_stream(rows)
        for pending in appends:
            result = written.get(pending.stream_id)
            if result is None:
                await self._one(pending)  # refused by its check: conflict or a retry
            elif not pending.future.done():
                pending.future.set_result(result)

    async def _one(self, pending: PendingAppend) -> None:
        try:
            result = await self._run_alone(pending)
        except Exception as exc:
            _fail(pending.future, exc)
        else:
            if not pending.future.done():
                pending.future.set_result(result)


def _fail(future: asyncio.Future[AppendResult], exc: BaseException) -> None:
    if not future.done():
        future.set_exception(exc)


def _results_by_stream(rows: list[tuple[Any, ...]]) -> dict[str, AppendResult]:
    last: dict[str, tuple[int, int]] = {}
    for stream_id, position, version in rows:
        seen = last.get(stream_id)
        if seen is None or version > seen[1]:
            last[stream_id] = (position, version)
    return {s: AppendResult(s, v, p) for s, (p, v) in last.items()}
