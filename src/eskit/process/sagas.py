"""Sagas (process managers): long-running processes across aggregates, driven by events.

::

    class BidSaga(Saga[BidState]):
        name = "bid"
        state_type = BidState

        @on(FundsReserved, starts=True, correlate=lambda e: str(e.bid_id))
        def reserved(self, saga: SagaInstance[BidState], event: FundsReserved) -> None:
            saga.state.investor_id = saga.stream_id
            saga.send(FinanceInvoice(aggregate_id=str(event.invoice_id), ...))
            saga.step = "financing"

        @compensates(BidRejected, correlate=lambda e: str(e.bid_id))
        def rejected(self, saga: SagaInstance[BidState], event: BidRejected) -> None:
            saga.send(ReleaseFunds(aggregate_id=saga.state.investor_id, ...))

One instance lives per correlation id. A saga runs like a projection (a
:class:`~eskit.projections.ProjectionRunner` feeds it the log from its checkpoint), and
each batch commits in one transaction: the instances' new state and step, the commands
they issued (into the store's command queue, see :mod:`eskit.process.queue`), the deadlines
they set or cancelled, and the checkpoint. A crash anywhere loses or doubles nothing: the
batch is handled again from the checkpoint, and a command's id derives from the event
that issued it. Handlers are plain functions of the instance and the event: decisions,
no I/O.

A **deadline** is a command queued to run at a later time unless cancelled first:
``saga.schedule("withdraw", at=due, command=WithdrawInvoice(...))``; it survives restarts
(it is a row in the store) and fires once (a queued command is claimed by one worker).
A saga cannot be rebuilt: replaying its history would issue its commands again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from eskit.domain.commands import Command
from eskit.domain.events import Event
from eskit.domain.ids import derive_uuid7
from eskit.domain.registry import EventRegistry
from eskit.logcontext import log_context
from eskit.observability.tracing import TRACE_KEYS, span_from
from eskit.process.queue import queued_command
from eskit.projections.projection import HandlerFailedError, Projection, ProjectionContext
from eskit.store.queue import QueuedCommand
from eskit.store.records import StoredEvent
from eskit.store.sagas import SagaRecord, SagaStatus
from eskit.store.unit_of_work import UnitOfWork

__all__ = ["Saga", "SagaInstance", "compensates", "on"]

log = logging.getLogger(__name__)

S = TypeVar("S", bound=BaseModel)
E = TypeVar("E", bound=Event)
_MARK = "__eskit_handles__"  # what Projection collects: the saga's event types
_STEP = "__eskit_saga_step__"
FINISHED: tuple[SagaStatus, ...] = ("completed", "compensated", "failed")

Correlate = Callable[[Any], str]
AT_ONCE = datetime(1970, 1, 1, tzinfo=UTC)
"""When a command a saga sends is due: at once, whatever a worker's clock says, and ahead
of commands queued later by clients (a process under way finishes before new ones start)."""


@dataclass(frozen=True, slots=True)
class _Step:
    starts: bool
    compensating: bool
    correlate: Correlate | None


def on(
    event_type: type[E], *, starts: bool = False, correlate: Callable[[E], str] | None = None
) -> Callable[[Callable[[Any, Any, E], None]], Callable[[Any, Any, E], None]]:
    """Mark a method ``(saga, event) -> None`` as the saga's step on ``event_type``.

    ``starts``: the event begins an instance when none exists for its correlation id
    (otherwise an event with no instance is ignored). ``correlate`` gives the correlation
    id from the event (default: the id of the stream the event is in).
    """

    def mark(fn: Callable[[Any, Any, E], None]) -> Callable[[Any, Any, E], None]:
        setattr(fn, _MARK, event_type)
        setattr(fn, _STEP, _Step(starts, False, correlate))
        return fn

    return mark


def compensates(
    event_type: type[E], *, correlate: Callable[[E], str] | None = None
) -> Callable[[Callable[[Any, Any, E], None]], Callable[[Any, Any, E], None]]:
    """Mark a method as a compensation step: the instance turns ``compensating`` before
    it runs (a step later calls :meth:`SagaInstance.compensated` when undone)."""

    def mark(fn: Callable[[Any, Any, E], None]) -> Callable[[Any, Any, E], None]:
        setattr(fn, _MARK, event_type)
        setattr(fn, _STEP, _Step(False, True, correlate))
        return fn

    return mark


@dataclass(slots=True)
class _Op:
    enqueue: QueuedCommand | None = None
    cancel: str | None = None


class SagaInstance(Generic[S]):
    """One running saga as its step sees it: ``state`` (change it in place), ``step``,
    ``status``, ``reason``, and the commands to issue."""

    def __init__(self, saga: Saga[S], record: SagaRecord, state: S, event: StoredEvent) -> None:
        self._saga = saga
        self._record = record
        self.correlation_id = record.correlation_id
        self.state = state
        self.step = record.step
        self.status: SagaStatus = record.status
        self.reason = record.reason
        self.started_at = record.started_at
        self._ops: list[_Op] = []
        self._event = event
        self._issued = 0

    @property
    def now(self) -> datetime:
        """When the event being handled was recorded: what deadlines count from (the same
        on every replay of this step)."""
        return self._event.recorded_at

    @property
    def stream_id(self) -> str:
        """The stream of the event being handled."""
        return self._event.stream_id

    def send(self, command: Command) -> uuid.UUID:
        """Issue ``command`` (queued when this batch commits); returns its id."""
        return self._queue(command, available_at=None, key=None)

    def schedule(self, name: str, *, at: datetime, command: Command) -> uuid.UUID:
        """Issue ``command`` at ``at`` unless :meth:`cancel` ``(name)`` comes first.

        One deadline per name and instance: scheduling a name still pending does nothing.
        """
        return self._queue(command, available_at=at, key=self._key(name))

    def cancel(self, name: str) -> None:
        """Cancel the deadline ``name`` if it has not fired."""
        self._ops.append(_Op(cancel=self._key(name)))

    def complete(self, reason: str = "") -> None:
        """The saga reached its goal: no further event changes it."""
        self._finish("completed", reason)

    def compensating(self, reason: str) -> None:
        """The saga is undoing what it did (``reason``: why)."""
        self.status, self.reason = "compensating", reason

    def compensated(self, reason: str = "") -> None:
        """The saga undid what it did: it ends here."""
        self._finish("compensated", reason or self.reason)

    def fail(self, reason: str) -> None:
        """The saga cannot go on: it ends here, ``reason`` shown to operators."""
        self._finish("failed", reason)

    def _finish(self, status: SagaStatus, reason: str) -> None:
        self.status, self.reason = status, reason

    def _key(self, name: str) -> str:
        return f"{self._saga.name}:{self.correlation_id}:{name}"

    def _queue(
        self, command: Command, *, available_at: datetime | None, key: str | None
    ) -> uuid.UUID:
        # the id depends only on the event and the command's place among those it issued:
        # handled again after a crash, the step queues the very same commands
        command_id = derive_uuid7(self._event.event_id, self._issued)
        self._issued += 1
        command = command.model_copy(update={"command_id": command_id})
        metadata = {
            "correlation_id": self._event.metadata.get("correlation_id") or self.correlation_id,
            "causation_id": str(self._event.event_id),
            "saga": self._saga.name,
            "saga_correlation_id": self.correlation_id,
        }
        for name in TRACE_KEYS:  # the step's span replaces it when tracing is on here
            if name in self._event.metadata:
                metadata[name] = self._event.metadata[name]
        row = queued_command(
            command,
            now=self.now,
            metadata=metadata,
            available_at=available_at or AT_ONCE,
            key=key,
        )
        self._ops.append(_Op(enqueue=row))
        return command_id

    def _next_record(self) -> SagaRecord:
        return SagaRecord(
            saga=self._saga.name,
            correlation_id=self.correlation_id,
            status=self.status,
            step=self.step,
            version=self._record.version + 1,
            started_at=self.started_at,
            # the wall clock, not the event's time: an instance catching up on old events
            # was just moved, it is not stuck
            updated_at=datetime.now(UTC),
            state=self.state.model_dump(mode="json"),
            reason=self.reason,
        )


@dataclass
class _Batch:
    records: dict[str, SagaRecord] = field(default_factory=dict)
    """The instances as read (version before the batch), by correlation id."""
    changed: dict[str, SagaRecord] = field(default_factory=dict)
    ops: list[_Op] = field(default_factory=list)


class Saga(Projection, Generic[S]):
    """Base class of sagas. Subclasses set ``name``, ``state_type`` (a pydantic model with
    defaults for every field) and mark steps with :func:`on` and :func:`compensates`.

    Run it with a :class:`~eskit.projections.ProjectionRunner` (``eskit worker`` and
    ``eskit serve`` run a service's sagas beside its projections).
    """

    state_type: ClassVar[type[BaseModel]]
    rebuildable: ClassVar[bool] = False

    def __init__(self, registry: EventRegistry | None = None) -> None:
        super().__init__(registry)
        self._listeners: list[Callable[[], None]] = []
        self._queued = False

    def on_commands(self, listener: Callable[[], None]) -> None:
        """Call ``listener`` after each batch that queued commands has committed: queue
        workers in this process look for them at once instead of at their next poll."""
        self._listeners.append(listener)

    def after_commit(self) -> None:
        """See Projection.after_commit: wake the listeners if the batch queued commands."""
        if self._queued:
            self._queued = False
            for listener in self._listeners:
                listener()

    def _step_of(
        self, event: Event
    ) -> tuple[Callable[[SagaInstance[S], Event], None], _Step] | None:
        handler = self._bound.get(event.event_type)
        if handler is None:
            return None
        return handler, getattr(handler, _STEP)  # type: ignore[return-value]

    async def handle_each(self, ctx: ProjectionContext, records: Sequence[StoredEvent]) -> None:
        """Run each event's step on its instance; write the instances and their commands.

        Raises HandlerFailedError naming the event whose decoding or step raised.
        """
        decoded: list[tuple[StoredEvent, Event, str]] = []
        for index, record in enumerate(records):
            try:
                event = self.registry.decode(
                    record.event_type,
                    record.schema_version,
                    record.raw_data,
                    position=record.position,
                )
                found = self._step_of(event)
                if found is not None:
                    correlate = found[1].correlate
                    key = correlate(event) if correlate is not None else record.stream_id
                    decoded.append((record, event, key))
            except Exception as exc:
                raise HandlerFailedError(index, record, exc) from exc
        self._queued = False
        batch = _Batch(await ctx.tx.sagas.get(self.name, sorted({k for *_, k in decoded})))
        for record, event, key in decoded:
            try:
                self._run_step(batch, record, event, key)
            except Exception as exc:
                raise HandlerFailedError(records.index(record), record, exc) from exc
        await _write(ctx.tx, batch)
        self._queued = any(op.enqueue is not None for op in batch.ops)

    def _run_step(self, batch: _Batch, record: StoredEvent, event: Event, key: str) -> None:
        found = self._step_of(event)
        assert found is not None
        handler, step = found
        current = batch.changed.get(key) or batch.records.get(key)
        if current is None:
            if not step.starts:
                with log_context(stream_id=record.stream_id, position=record.position):
                    log.debug(
                        "%s: no instance %s for %s; ignored", self.name, key, event.event_type
                    )
                return
            current = SagaRecord(
                self.name, key, "running", "", 0, record.recorded_at, record.recorded_at
            )
        elif current.status in FINISHED:
            with log_context(stream_id=record.stream_id, position=record.position):
                log.debug(
                    "%s %s is %s: %s ignored", self.name, key, current.status, event.event_type
                )
            return
        state = (
            self.state_type.model_validate(current.state) if current.state else self.state_type()
        )
        instance: SagaInstance[S] = SagaInstance(self, current, state, record)  # type: ignore[arg-type]
        if step.compensating and instance.status == "running":
            instance.compensating(event.event_type)
        attributes = {
            "eskit.saga": self.name,
            "eskit.saga.id": key,
            "eskit.event": record.event_type,
        }
        with span_from(f"saga {self.name}", (record.metadata,), attributes):
            handler(instance, event)
        # one write per instance and batch, from the version read at its start
        read = batch.records.get(key)
        batch.changed[key] = replace(
            instance._next_record(), version=(read.version if read else 0) + 1
        )
        batch.ops += instance._ops


async def _write(tx: UnitOfWork, batch: _Batch) -> None:
    if batch.changed:
        await tx.sagas.put(list(batch.changed.values()))
    pending: list[QueuedCommand] = []
    for op in batch.ops:
        if op.enqueue is not None:
            pending.append(op.enqueue)
            continue
        if pending:
            await tx.queue.enqueue(pending)
            pending = []
        assert op.cancel is not None
        await tx.queue.cancel(op.cancel)
    if pending:
        await tx.queue.enqueue(pending)
