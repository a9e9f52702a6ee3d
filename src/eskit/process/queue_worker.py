"""Workers that take queued commands, handle them, and record each outcome.

A worker claims a batch of due commands (a lease, so a worker that dies gives them up),
handles them concurrently through the dispatcher, and records every outcome in one
transaction:

- handled: ``done``, with the aggregate's version and the position of its last event;
- refused by the command itself (a business rule, validation, an unknown aggregate):
  ``refused``, with the typed error, never retried;
- failed for reasons outside the command (a conflict that outlasted the handler's own
  retries, the store unreachable, a bug): queued again after an exponential backoff, and
  ``dead`` once ``max_attempts`` are spent, with the last error.

A command handled but not yet recorded when its worker dies is claimed again when the
lease ends; its events' ids derive from the command id, so the second handling appends
nothing and records the first outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from eskit.errors import (
    DomainError,
    DuplicateEventError,
    EskitError,
    InvalidCommandError,
    NotFoundError,
    UnknownCommandTypeError,
)
from eskit.logcontext import log_context
from eskit.observability.metrics import record_queue_outcomes
from eskit.observability.tracing import span_from
from eskit.process.clock import Clock, SystemClock
from eskit.process.dispatch import CommandDispatcher
from eskit.store.port import EventStoreBackend
from eskit.store.queue import QueuedCommand, QueueStatus
from eskit.store.unit_of_work import TransactionalStore, require_transactions

__all__ = ["QueueWorker", "WorkerCounters"]

log = logging.getLogger(__name__)

_REFUSALS = (DomainError, NotFoundError, InvalidCommandError, UnknownCommandTypeError)
_REFUSALS_TOO = (DuplicateEventError,)
"""An event id stored elsewhere: the command itself is wrong, retrying cannot help."""


@dataclass
class WorkerCounters:
    """What a worker did since it started."""

    done: int = 0
    refused: int = 0
    retried: int = 0
    dead: int = 0


@dataclass(frozen=True, slots=True)
class _Outcome:
    status: QueueStatus | None  # None: retry
    outcome: dict[str, Any] | None = None
    error: str = ""


class QueueWorker:
    """Takes due commands from the store's queue and handles them.

    ``batch_size`` commands are claimed at a time and handled concurrently (commands to
    one aggregate still take turns in its handler). ``lease_s`` bounds how long a claimed
    command stays with a worker that went silent. Transient failures wait
    ``backoff_s * 2**(attempt-1)`` (at most ``max_backoff_s``, with jitter) before the next
    attempt; after ``max_attempts`` the command is dead.

    The worker looks for work when a door in this process queued something, when the
    store committed events (a saga may have queued commands in answer), and every
    ``poll_interval_s`` otherwise.
    """

    def __init__(
        self,
        store: EventStoreBackend,
        dispatcher: CommandDispatcher,
        *,
        clock: Clock | None = None,
        batch_size: int = 64,
        lease_s: float = 30.0,
        max_attempts: int = 5,
        backoff_s: float = 0.1,
        max_backoff_s: float = 30.0,
        poll_interval_s: float = 0.5,
        wake: asyncio.Event | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store: TransactionalStore = require_transactions(store, "queue workers")
        self.dispatcher = dispatcher
        self.clock: Clock = clock or SystemClock()
        self.batch_size = batch_size
        self.lease_s = lease_s
        self.max_attempts = max_attempts
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.poll_interval_s = poll_interval_s
        self.wake = wake or asyncio.Event()
        self.counters = WorkerCounters()

    async def run(self, stop: asyncio.Event) -> None:
        """Handle commands until ``stop`` is set (finishing the batch in hand)."""
        seen = self.store.appended.generation
        quick = 0
        while not stop.is_set():
            try:
                handled = await self.run_once()
            except EskitError as exc:  # the store is down: keep trying, slowly
                log.warning("command queue: %s", exc)
                handled = 0
                await _sleep_unless(stop, min(self.max_backoff_s, 1.0))
            if handled:
                quick = 0
                continue
            if self.store.appended.generation != seen:
                # events were committed: a saga may queue commands in answer, in a moment
                seen = self.store.appended.generation
                quick = 6
            if quick:
                quick -= 1
                await self._idle(stop, seen, 0.002 * 2 ** (5 - quick))
                continue
            await self._idle(stop, seen, self.poll_interval_s)

    async def _idle(self, stop: asyncio.Event, seen: int, timeout_s: float) -> None:
        """Wait ``timeout_s``, or less: until a door or a saga in this process queued
        something, events are committed, or a stop."""
        waits = [
            asyncio.ensure_future(self.wake.wait()),
            asyncio.ensure_future(stop.wait()),
            asyncio.ensure_future(self.store.appended.wait(seen, None)),
        ]
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when="FIRST_COMPLETED")
        finally:
            for task in waits:
                task.cancel()
        self.wake.clear()

    async def run_once(self) -> int:
        """Claim one batch of due commands and handle it; how many were claimed."""
        now = self.clock.now()
        async with self.store.transaction() as tx:
            claimed = await tx.queue.claim(now=now, limit=self.batch_size, lease_s=self.lease_s)
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._handle(c) for c in claimed))
        await self._record(claimed, outcomes)
        return len(claimed)

    async def drain(self, *, max_batches: int = 1000) -> int:
        """Handle due commands until none is left; how many were handled."""
        total = 0
        for _ in range(max_batches):
            handled = await self.run_once()
            if not handled:
                break
            total += handled
        return total

    async def _handle(self, queued: QueuedCommand) -> _Outcome:
        attributes = {"eskit.command.id": str(queued.id), "eskit.attempt": queued.attempts}
        with span_from(f"queued {queued.command_type}", (queued.metadata,), attributes) as current:
            outcome = await self._handle_queued(queued)
            current.set_attribute("eskit.outcome", outcome.status or "retry")
            return outcome

    async def _handle_queued(self, queued: QueuedCommand) -> _Outcome:
        try:
            command = self.dispatcher.parse(queued.command_type, queued.payload)
            result = await self.dispatcher.handle(
                command, queued.metadata, replay=queued.attempts > 1
            )
        except (*_REFUSALS, *_REFUSALS_TOO) as exc:
            return _Outcome("refused", {"error": _error_body(exc)})
        except Exception as exc:
            if not isinstance(exc, EskitError):
                correlation = queued.metadata.get("correlation_id")
                with log_context(
                    correlation_id=correlation if isinstance(correlation, str) else None
                ):
                    log.exception("command %s (%s) failed", queued.id, queued.command_type)
            if queued.attempts >= self.max_attempts:
                return _Outcome("dead", {"error": _error_body(exc)}, _describe(exc))
            return _Outcome(None, error=_describe(exc))
        return _Outcome(
            "done",
            {
                "aggregate_id": result.aggregate_id,
                "version": result.version,
                "position": result.position,
                "deduplicated": result.deduplicated,
            },
        )

    async def _record(self, claimed: Sequence[QueuedCommand], outcomes: Sequence[_Outcome]) -> None:
        now = self.clock.now()
        async with self.store.transaction() as tx:
            for queued, outcome in zip(claimed, outcomes, strict=True):
                if outcome.status is None:
                    delay = self._backoff(queued.attempts)
                    await tx.queue.retry(
                        queued.id, available_at=now + delay, error=outcome.error, now=now
                    )
                    continue
                await tx.queue.finish(
                    queued.id, status=outcome.status, outcome=outcome.outcome, now=now
                )
        record_queue_outcomes(outcome.status for outcome in outcomes)
        for outcome in outcomes:
            if outcome.status is None:
                self.counters.retried += 1
            else:
                setattr(self.counters, outcome.status, getattr(self.counters, outcome.status) + 1)

    def _backoff(self, attempts: int) -> timedelta:
        seconds = min(self.max_backoff_s, self.backoff_s * 2 ** max(0, attempts - 1))
        return timedelta(seconds=seconds * random.uniform(0.5, 1.0))


def _error_body(exc: Exception) -> dict[str, Any]:
    code = exc.code if isinstance(exc, EskitError) else "internal_error"
    details = getattr(exc, "errors", None) if isinstance(exc, InvalidCommandError) else None
    return {"code": code, "message": str(exc), "details": details}


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"


async def _sleep_unless(stop: asyncio.Event, delay_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)
