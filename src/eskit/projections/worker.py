"""Running one projection: read after the checkpoint, handle, commit with the checkpoint.

Each batch is one transaction: the handlers' writes and the checkpoint's compare-and-set
commit together or not at all, so every event takes effect exactly once, however often the
process is killed. A handler that raises stops the projection *at that event*: the events
before it in the batch are committed, the error is recorded where ``eskit projections
status`` shows it, and the batch is retried with backoff until the handler succeeds or the
event is parked: by an operator, or by the projection's failure policy after its number of
attempts (see :mod:`eskit.projections.failure`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

from eskit.errors import CheckpointMovedError
from eskit.logcontext import log_context
from eskit.observability.metrics import record_projection_batch, record_projection_error
from eskit.observability.tracing import span_from
from eskit.projections.failure import FailurePolicy
from eskit.projections.projection import HandlerFailedError, Projection, ProjectionContext
from eskit.projections.subscription import Subscription
from eskit.store.bookkeeping import DeadLetter
from eskit.store.commits import AppendSignal
from eskit.store.records import LogPage, StoredEvent
from eskit.store.unit_of_work import TransactionalStore, UnitOfWork

__all__ = ["HandlerFailedError", "ProjectionWorker"]

_log = logging.getLogger("eskit.projections")


def _drop(task: asyncio.Task[LogPage]) -> None:
    """Cancel a page read nobody waits for, and keep its failure from being reported."""
    task.cancel()
    task.add_done_callback(lambda done: done.cancelled() or done.exception())


class ProjectionWorker:
    """Keeps one projection up to date with the log. Used by ``ProjectionRunner``."""

    def __init__(
        self,
        projection: Projection | Subscription,
        store: TransactionalStore,
        *,
        checkpoint_name: str | None = None,
        tables: dict[str, str] | None = None,
        batch_size: int = 1000,
    ) -> None:
        self.projection = projection
        self.store = store
        self.name = checkpoint_name or projection.name
        self.tables = tables
        self.batch_size = batch_size
        self.position = 0
        self.progress = AppendSignal()
        """Fired after each committed batch (``progress.position`` = the checkpoint)."""
        self.error: str | None = None
        self.error_position: int | None = None
        self.infrastructure_error: str | None = None
        self.last_progress = time.monotonic()
        self.events_handled = 0
        """Events handled by this worker since it was made (parked ones excluded)."""
        self.parked: set[int] = set()
        self.policy: FailurePolicy = projection.on_failure
        self.failing_at: int | None = None
        """The position of the event that failed last, until the worker has passed it."""
        self.attempts = 0
        """Failed attempts in a row at ``failing_at``."""
        self._failure: HandlerFailedError | None = None
        self.more = True
        """Whether the last step read a full batch (more events may be waiting)."""
        event_types, stream_types = projection.event_types, projection.stream_types
        self.event_types = list(event_types) if event_types is not None else None
        self.stream_types = list(stream_types) if stream_types is not None else None
        self._ahead: tuple[int, int, asyncio.Task[LogPage]] | None = None
        """The next page, read while the last one is handled (catching up): its ``after``,
        the store's commit generation before it was read, and the read."""
        self.page_generation = 0
        """The store's commit generation just before the last page was read: a commit after
        it may hold events that page could not see."""

    async def load(self) -> None:
        """Read the checkpoint and the parked events."""
        committed = self.store.committed
        self.position = (await committed.checkpoints.get(self.name)).position
        self.progress.fire(self.position)
        self.parked |= await committed.dead_letters.positions(self.name)

    async def step(self) -> bool:
        """Handle the next batch; False when there was nothing to do."""
        page = await self._page_after(self.position)
        target = self._target(page)
        if target <= self.position:
            return False
        if self.more and self.store.capabilities.read_ahead:
            # catching up: read the next page while this one is handled and committed (the
            # database works on it meanwhile); it starts after this page, whatever happens
            # to the batch, and is thrown away if the checkpoint ends up elsewhere
            self._read_ahead(target)
        kept = self._without_parked(page.events)
        started = time.perf_counter()
        await self._commit(kept, target)
        self.events_handled += len(kept)
        record_projection_batch(self.name, len(kept), time.perf_counter() - started)
        # one line per batch, never per event; at INFO it costs a level check
        _log.debug("%s: handled %d events, now at position %d", self.name, len(kept), target)
        return True

    def _read(self, after: int) -> Coroutine[Any, Any, LogPage]:
        return self.store.read_page(
            after=after,
            limit=self.batch_size,
            stream_types=self.stream_types,
            event_types=self.event_types,
        )

    def _read_ahead(self, after: int) -> None:
        self.drop_read_ahead()
        generation = self.store.appended.generation
        self._ahead = (after, generation, asyncio.ensure_future(self._read(after)))

    async def _page_after(self, position: int) -> LogPage:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            after, generation, task = ahead
            if after == position:
                self.page_generation = generation
                return await task
            _drop(task)
        self.page_generation = self.store.appended.generation
        return await self._read(position)

    def drop_read_ahead(self) -> None:
        """Forget the page read ahead, if any (the worker stops, or starts over)."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            _drop(ahead[2])

    def _target(self, page: LogPage) -> int:
        """Where the checkpoint goes after ``page``."""
        batch = page.events
        self.more = len(batch) == self.batch_size
        if self.more:
            return batch[-1].position
        # a short page holds every matching event up to its head: the checkpoint may move
        # to the head even when the last events were not ours
        return max(page.head, batch[-1].position if batch else 0)

    async def catch_up_in(self, tx: UnitOfWork) -> int:
        """Handle every visible event inside the caller's transaction; returns how many.

        The position moves in memory only: if the caller's transaction rolls back, call
        :meth:`load` again.
        """
        handled = 0
        while True:
            page = await tx.read_page(
                after=self.position,
                limit=self.batch_size,
                event_types=self.event_types,
                stream_types=self.stream_types,
            )
            target = self._target(page)
            if target <= self.position:
                return handled
            kept = self._without_parked(page.events)
            await self._apply(tx, kept, self.position, target)
            self.position = target
            handled += len(kept)

    def _without_parked(self, batch: list[StoredEvent]) -> list[StoredEvent]:
        if not self.parked:
            return batch
        kept = []
        for record in batch:
            if record.position in self.parked:
                with _about(record):
                    _log.warning(
                        "%s: skipping parked event %s at position %s",
                        self.name,
                        record.event_type,
                        record.position,
                    )
            else:
                kept.append(record)
        return kept

    async def _commit(self, batch: Sequence[StoredEvent], target: int) -> None:
        attributes = {"eskit.projection": self.name, "eskit.events": len(batch)}
        with span_from(f"project {self.name}", (r.metadata for r in batch), attributes):
            await self._commit_batch(batch, target)

    async def _commit_batch(self, batch: Sequence[StoredEvent], target: int) -> None:
        start = self.position
        if isinstance(self.projection, Subscription):
            if self.failing_at is not None and len(batch) > 1:
                # retrying: one event at a time, so the event the handler refuses is known
                batch, target, self.more = batch[:1], batch[0].position, True
            await self._deliver(self.projection, batch, start, target)
            return
        try:
            async with self.store.transaction() as tx:
                await self._apply(tx, batch, start, target)
        except HandlerFailedError as failure:
            if failure.index > 0:  # keep the work before the poison event
                before = batch[: failure.index]
                done = before[-1].position
                async with self.store.transaction() as tx:
                    await self._apply(tx, before, start, done)
                self.projection.after_commit()
                self._advanced(done)
            raise
        self.projection.after_commit()
        self._advanced(target)

    async def _deliver(
        self, subscription: Subscription, batch: Sequence[StoredEvent], start: int, target: int
    ) -> None:
        if batch:
            try:
                await subscription.handler(batch)
            except HandlerFailedError:
                raise  # the handler named the event it failed on itself
            except Exception as exc:
                raise HandlerFailedError(0, batch[0], exc) from exc
        async with self.store.transaction() as tx:
            await tx.checkpoints.advance(self.name, expected=start, to=target)
        self._advanced(target)

    async def _apply(
        self, tx: UnitOfWork, batch: Sequence[StoredEvent], start: int, target: int
    ) -> None:
        ctx = ProjectionContext(tx, self.tables)
        projection = self.projection
        assert isinstance(projection, Projection)
        await projection.prefetch(ctx, batch)
        await projection.handle_each(ctx, batch)
        await ctx.flush()
        await tx.checkpoints.advance(self.name, expected=start, to=target)

    def _advanced(self, position: int) -> None:
        self.position = position
        if self.failing_at is not None and position >= self.failing_at:
            self.failing_at, self.attempts, self._failure = None, 0, None
        self.error = self.error_position = self.infrastructure_error = None
        self.last_progress = time.monotonic()
        self.progress.fire(position)

    async def fail(self, failure: HandlerFailedError) -> None:
        """Record a handler's failure where operators look, and reload the parked events.

        The error is stored before this worker reports itself failing: an operator who
        sees "failing" can park the event at once (parking reads the stored error).
        """
        record_projection_error(self.name)
        position = failure.record.position
        self.attempts = self.attempts + 1 if position == self.failing_at else 1
        self.failing_at, self._failure = position, failure
        with _about(failure.record):
            _log.error(
                "%s stopped (attempt %d): %s",
                self.name,
                self.attempts,
                failure,
                exc_info=failure.cause,
            )
        try:
            async with self.store.transaction() as tx:
                await tx.checkpoints.record_error(self.name, failure.record.position, str(failure))
            self.parked |= await self.store.committed.dead_letters.positions(self.name)
        except Exception as exc:  # the store may be down as well; the status still shows it
            _log.warning("%s: could not record the error: %s", self.name, exc)
        self.error = str(failure)
        self.error_position = failure.record.position

    async def park_failing(self) -> DeadLetter:
        """Park the event this worker fails on, with its error, so the next step skips it."""
        failure = self._failure
        assert failure is not None, "no event is failing"
        record = failure.record
        letter = DeadLetter(
            self.name,
            record.position,
            str(record.event_id),
            record.stream_id,
            record.event_type,
            f"{failure} (parked by the policy '{self.policy}' after {self.attempts} attempts)",
            datetime.now(UTC),
        )
        async with self.store.transaction() as tx:
            await tx.dead_letters.park(letter)
        self.parked.add(record.position)
        with _about(record):
            _log.warning(
                "%s: parked %s at position %s", self.name, record.event_type, record.position
            )
        return letter

    async def failing_event_parked(self) -> bool:
        """Reload the parked events; whether the one this worker fails on is among them now
        (an operator parked it, perhaps from another process)."""
        if self.failing_at is None:
            return False
        try:
            self.parked |= await self.store.committed.dead_letters.positions(self.name)
        except Exception as exc:  # the store may be down; the retry will say so
            _log.debug("%s: could not read the parked events: %s", self.name, exc)
            return False
        return self.failing_at in self.parked

    async def moved(self) -> None:
        """Another runner moved the checkpoint: go on from where it is now."""
        _log.info("%s: checkpoint moved elsewhere; reloading", self.name)
        await self.load()

    async def catch_up(self) -> None:
        """Handle batches until none is left (raises what a handler raised)."""
        try:
            while True:
                try:
                    if not await self.step():
                        return
                except CheckpointMovedError:
                    await self.moved()
        finally:
            self.drop_read_ahead()


def _about(record: StoredEvent) -> log_context:
    """The log context of what concerns ``record``: its stream, position and correlation."""
    correlation = record.metadata.get("correlation_id")
    return log_context(
        stream_id=record.stream_id,
        position=record.position,
        correlation_id=correlation if isinstance(correlation, str) else None,
    )
