"""The invoice-financing application: commands through the queue, queries of the read models.

``InvoiceFinancing`` is what both APIs are thin layers on: ``queue`` accepts commands (each
answered at once with its id, handled by a worker), ``queries`` reads the read models,
``dispatcher`` routes a command to its aggregate's handler (the workers use it; so do
tests and the data loader, to handle a command at once).
"""

from __future__ import annotations

from eskit.domain import Command
from eskit.process import CommandDispatcher, CommandQueue, Receipt
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend
from invoice_financing.commands import build_handlers
from invoice_financing.published import REGISTRATION_PREFIX, participant_id
from invoice_financing.queries import FinancingQueries

__all__ = ["InvoiceFinancing", "public_id"]


class InvoiceFinancing:
    """Commands (``queue``, ``dispatcher``) and queries (``queries``) over one store."""

    def __init__(
        self,
        store: EventStoreBackend,
        *,
        snapshot_every: int | None = None,
        cache_size: int = 1024,
        consistency_timeout_s: float = 5.0,
        max_waiting: int = 10_000,
    ) -> None:
        self.store = store
        handlers = build_handlers(store, snapshot_every=snapshot_every, cache_size=cache_size)
        self.dispatcher = CommandDispatcher.of(handlers)
        self.queue = CommandQueue(store, self.dispatcher, max_waiting=max_waiting)
        self.queries = FinancingQueries(store, timeout_s=consistency_timeout_s)

    @classmethod
    def from_settings(cls, store: EventStoreBackend, settings: EskitSettings) -> InvoiceFinancing:
        """The application configured by ``settings``."""
        return cls(
            store,
            snapshot_every=settings.snapshot_every,
            cache_size=settings.aggregate_cache_size,
            consistency_timeout_s=settings.consistency_timeout_s,
            max_waiting=settings.queue_max_waiting,
        )

    async def submit(self, command: Command) -> Receipt:
        """Queue ``command``; see CommandQueue.submit."""
        return await self.queue.submit(command)


def public_id(aggregate_id: str) -> str:
    """The id a client knows an aggregate by: a participant's id for its registration."""
    return (
        participant_id(aggregate_id)
        if aggregate_id.startswith(REGISTRATION_PREFIX)
        else aggregate_id
    )
