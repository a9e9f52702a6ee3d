"""Given / when / then for processes: commands through the queue, sagas, deadlines, on a
real store, with a clock the test moves.

::

    clock = ManualClock()
    scenario = ProcessScenario(store, dispatcher, sagas=[BidSaga()], clock=clock)
    await scenario.given(OpenInvestorAccount(...), DepositFunds(...))
    done = await scenario.when(BidOnInvoice(...))          # queued, handled, sagas settled
    await scenario.then(invoice_id, InvoiceFinanced(...))  # what the when appended there
    await scenario.then_saga("bid", bid_id, status="completed")
    await scenario.advance(timedelta(days=31))             # deadlines due now fire

Every step runs to quiescence: the sagas handle every event, the queue's worker every due
command (with the scenario's clock), again and again until nothing moves. Nothing is
mocked: the store, the queue and the saga state are the ones production uses.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from eskit.domain.commands import Command
from eskit.domain.events import Event
from eskit.domain.registry import EventRegistry
from eskit.process.clock import ManualClock
from eskit.process.dispatch import CommandDispatcher
from eskit.process.queue import CommandQueue
from eskit.process.queue_worker import QueueWorker
from eskit.process.sagas import Saga
from eskit.projections.runner import ProjectionRunner
from eskit.store.port import EventStoreBackend
from eskit.store.queue import QueuedCommand, QueueStatus
from eskit.store.sagas import SagaRecord, SagaStatus
from eskit.store.unit_of_work import TransactionalStore, require_transactions

__all__ = ["ProcessScenario"]


class ProcessScenario:
    """Scenarios of commands, sagas and deadlines over one transactional store."""

    def __init__(
        self,
        store: EventStoreBackend,
        dispatcher: CommandDispatcher,
        *,
        sagas: Sequence[Saga[Any]] = (),
        clock: ManualClock | None = None,
        registry: EventRegistry | None = None,
        max_rounds: int = 100,
    ) -> None:
        self.store: TransactionalStore = require_transactions(store, "process scenarios")
        self.dispatcher = dispatcher
        self.clock = clock or ManualClock()
        self.queue = CommandQueue(self.store, dispatcher, clock=self.clock)
        self.worker = QueueWorker(self.store, dispatcher, clock=self.clock, backoff_s=0.0)
        self.runner = ProjectionRunner(self.store, list(sagas), listen=False)
        self.registry = registry or _registry_of(dispatcher)
        self.max_rounds = max_rounds
        self._since = 0
        self._prepared = False

    async def given(self, *history: Command) -> None:
        """Handle ``history`` directly, in order, and let the sagas settle."""
        for command in history:
            await self.dispatcher.handle(command)
        await self.settle()

    async def when(self, command: Command) -> QueuedCommand:
        """Queue ``command``, settle, and answer it as the queue recorded it."""
        self._since = await self.store.last_position()
        receipt = await self.queue.submit(command)
        await self.settle()
        return await self.queue.status(receipt.command_id)

    async def advance(self, by: timedelta) -> None:
        """Move the clock by ``by`` and settle: deadlines now due fire."""
        self._since = await self.store.last_position()
        self.clock.advance(by)
        await self.settle()

    async def settle(self) -> None:
        """Run the sagas and the queue until neither has anything left to do.

        Raises AssertionError if they still move after ``max_rounds`` rounds (a loop).
        """
        if not self._prepared:
            await self.runner.prepare()
            self._prepared = True
        for _ in range(self.max_rounds):
            before = await self.store.last_position()
            await self.runner.catch_up()
            handled = await self.worker.drain()
            if not handled and await self.store.last_position() == before:
                return
        raise AssertionError(f"still moving after {self.max_rounds} rounds")

    async def new_events(self, stream_id: str) -> list[Event]:
        """The events appended to ``stream_id`` by the last ``when`` or ``advance``."""
        records = await self.store.read_stream(stream_id)
        return [
            self.registry.decode(r.event_type, r.schema_version, r.raw_data, position=r.position)
            for r in records
            if r.position > self._since
        ]

    async def then(self, stream_id: str, *expected: Event) -> None:
        """Assert the last step appended exactly ``expected`` to ``stream_id``, in order."""
        recorded = await self.new_events(stream_id)
        if recorded != list(expected):
            raise AssertionError(
                f"events appended to {stream_id} differ from the expected ones:\n"
                f"  recorded: {recorded!r}\n  expected: {list(expected)!r}"
            )

    async def then_saga(
        self, saga: str, correlation_id: str, *, status: SagaStatus, step: str | None = None
    ) -> SagaRecord:
        """Assert the saga instance is in ``status`` (and at ``step``); returns it."""
        found = (await self.store.committed.sagas.get(saga, [correlation_id])).get(correlation_id)
        if found is None:
            raise AssertionError(f"no instance {correlation_id!r} of saga {saga}")
        if found.status != status or (step is not None and found.step != step):
            raise AssertionError(
                f"saga {saga} {correlation_id}: expected {status}"
                f"{f' at {step}' if step else ''}, found {found.status} at {found.step} "
                f"({found.reason or 'no reason given'})"
            )
        return found

    async def commands(self, status: QueueStatus | None = None) -> list[QueuedCommand]:
        """The queued commands (with ``status``, if given), oldest first."""
        return await self.store.committed.queue.list(status=status, limit=10_000)


def _registry_of(dispatcher: CommandDispatcher) -> EventRegistry:
    registry = EventRegistry([])
    for handler in dispatcher.handlers:
        own = handler.repository.registry
        for name in own.event_types:
            if name not in registry:
                registry.register(own.class_for(name))
    return registry
