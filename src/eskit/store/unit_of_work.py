"""One transaction a caller can see: appends, log reads, read models and checkpoints together.

::

    async with store.transaction() as tx:
        await tx.append("order-1", [OrderPlaced(...)], expected_version=0)
        await tx.append("stock-7", [StockReserved(...)], expected_version=3)
        await tx.checkpoints.advance("order_saga", expected=41, to=57)
    # committed here: both streams and the checkpoint, or (if anything raised) none of them

Everything done through ``tx`` commits when the block ends, or rolls back as one if it
raises. Reads through ``tx`` see the transaction's own writes. Inline projections,
projection batches, rebuild swaps, parking and processed-message ids all go through this
port; only ``eskit/store/<backend>/`` knows the SQL behind it.

A store has it when ``store.capabilities.transactions`` says so (SQLite and PostgreSQL;
not the in-memory store). :func:`require_transactions` checks that and gives the typed
store, or raises ConfigurationError naming what wanted it. A store whose events live apart
from its rows (``capabilities.events_apart``, :class:`~eskit.store.split.SplitStore`) has
transactions of rows only: its ``tx.append`` raises ConfigurationError.

On SQLite a transaction holds the single writer from its first line to its commit: keep it
short, and do not call ``store.append`` (or open another transaction) inside it, which
would wait for it forever (it raises instead).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Protocol, TypeGuard

from eskit.domain.events import Event
from eskit.errors import ConfigurationError
from eskit.store.bookkeeping import (
    CheckpointReader,
    CheckpointSession,
    DeadLetterReader,
    DeadLetterSession,
    InboxReader,
)
from eskit.store.leases import LeaseReader, LeaseSession
from eskit.store.port import EventStoreBackend
from eskit.store.queue import QueueReader, QueueSession
from eskit.store.records import (
    AppendResult,
    ExpectedVersion,
    LogPage,
    Metadata,
    NewEvent,
    StoredEvent,
)
from eskit.store.rows import (
    DocumentReader,
    DocumentSession,
    SchemaReader,
    SchemaSession,
    SearchReader,
    SearchSession,
    SQLReader,
    SQLSession,
    TableReader,
    TableSession,
)
from eskit.store.sagas import SagaReader, SagaSession

__all__ = [
    "CommittedRows",
    "TransactionalStore",
    "UnitOfWork",
    "has_transactions",
    "require_transactions",
]


class UnitOfWork(Protocol):
    """One open transaction on the store's database."""

    @property
    def tables(self) -> TableSession: ...
    @property
    def documents(self) -> DocumentSession: ...
    @property
    def search(self) -> SearchSession: ...
    @property
    def schema(self) -> SchemaSession: ...
    @property
    def checkpoints(self) -> CheckpointSession: ...
    @property
    def dead_letters(self) -> DeadLetterSession: ...
    @property
    def sql(self) -> SQLSession: ...
    @property
    def queue(self) -> QueueSession:
        """The command queue (see :mod:`eskit.store.queue`)."""
        ...

    @property
    def sagas(self) -> SagaSession:
        """Saga instances (see :mod:`eskit.store.sagas`)."""
        ...

    @property
    def leases(self) -> LeaseSession:
        """Leases on named loops (see :mod:`eskit.store.leases`)."""
        ...

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """Append as :meth:`EventStore.append` does, committing with the transaction.

        Several appends, to one stream or to several, may share a transaction (at most
        65,535 events in all). An append whose events are all stored already writes
        nothing and answers its first outcome (``deduplicated``). A ConcurrencyError or
        DuplicateEventError leaves the transaction usable: nothing of that append was
        written, and the caller decides whether to go on or raise.
        """
        ...

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
        visible_only: bool = True,
    ) -> LogPage:
        """Like :meth:`EventStore.read_page`, inside the transaction.

        With ``visible_only=False`` it also returns committed events that global readers
        may not see yet (on PostgreSQL, those beyond the read horizon).
        """
        ...

    async def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """A stream's events in version order, this transaction's appends included."""
        ...

    async def record_processed(self, consumer: str, message_ids: Sequence[str]) -> list[str]:
        """Remember that ``consumer`` processed these messages; returns the ids it had not
        processed before (in the given order). The rest were seen already: skip them."""
        ...

    async def stream_versions(self, consumer: str, stream_ids: Collection[str]) -> dict[str, int]:
        """The last version of each of ``stream_ids`` that ``consumer`` applied; streams it
        applied nothing of are left out."""
        ...

    async def record_stream_versions(self, consumer: str, versions: Mapping[str, int]) -> None:
        """Remember the last version of each stream ``consumer`` applied; a version below
        the one recorded leaves it as it is."""
        ...


class CommittedRows(Protocol):
    """What a transactional store keeps beside its events, as committed: read it any time."""

    @property
    def tables(self) -> TableReader: ...
    @property
    def documents(self) -> DocumentReader: ...
    @property
    def search(self) -> SearchReader: ...
    @property
    def schema(self) -> SchemaReader: ...
    @property
    def checkpoints(self) -> CheckpointReader: ...
    @property
    def dead_letters(self) -> DeadLetterReader: ...
    @property
    def sql(self) -> SQLReader: ...
    @property
    def queue(self) -> QueueReader: ...
    @property
    def sagas(self) -> SagaReader: ...
    @property
    def leases(self) -> LeaseReader: ...
    @property
    def inbox(self) -> InboxReader: ...


class TransactionalStore(EventStoreBackend, Protocol):
    """A store whose database also holds read models, checkpoints and processed ids."""

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A unit of work: committed when the block ends, rolled back if it raises.

        Raises StoreUnavailableError if the store cannot be reached or cannot commit.
        """
        ...

    @property
    def committed(self) -> CommittedRows:
        """Committed read models, checkpoints and parked events, read outside any transaction."""
        ...


def has_transactions(store: EventStoreBackend) -> TypeGuard[TransactionalStore]:
    """Whether ``store`` offers :meth:`TransactionalStore.transaction`."""
    return store.capabilities.transactions


def require_transactions(
    store: EventStoreBackend, needed_by: str, *, appends: bool = False
) -> TransactionalStore:
    """``store`` as a :class:`TransactionalStore`; ConfigurationError naming ``needed_by`` if
    it is not one (the in-memory store, say), or, with ``appends``, if its transactions
    cannot append events (``capabilities.events_apart``: the events live in another store).
    """
    if has_transactions(store):
        if appends and store.capabilities.events_apart:
            raise ConfigurationError(
                f"{needed_by} need a store that appends events in the transaction of its "
                f"rows (SQLite or PostgreSQL); {type(store).__name__} keeps its events apart "
                "from its read models"
            )
        return store
    raise ConfigurationError(
        f"{needed_by} need a store that commits rows beside its events (SQLite or "
        f"PostgreSQL); {type(store).__name__} has no transactions"
    )
