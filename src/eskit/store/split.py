"""Events in one store, read models in another: a JetStream log beside a SQL database.

An event store without transactions (JetStream) cannot commit a projection's rows with its
checkpoint. :class:`SplitStore` pairs it with a SQL store (SQLite or PostgreSQL) that can:
the event store port (appends, reads of streams and of the log, snapshots, command
outcomes, the commit signal and listener) goes to ``events``; transactions and everything
committed in them (read models, checkpoints, parked events, processed ids, leases, the
command queue, saga instances) go to ``read_models``. Projections, the relay, consumers,
asynchronous reactors, sagas and the command queue then run unchanged: each of them reads
committed events and commits its own bookkeeping with its rows, so each keeps the
guarantee it has on one database.

Why one composite store rather than a second source given to the runner: every part above
the store (runner, worker, rebuild, relay, consumers, leases, queue, health, metrics,
console) already asks the one store for both halves, so pairing them here changes none of
them and keeps a single port.

What cannot be honest is an append inside a read-model transaction: the events would not
commit with the rows. So ``tx.append`` raises ConfigurationError, and the store says
``capabilities.events_apart``, which inline projections and synchronous reactors check when
they are made (:func:`~eskit.store.unit_of_work.require_transactions` with ``appends``): a
service that uses them fails at start-up, not at its first command. Reads through ``tx``
(``read_page``, ``read_stream``) read the committed log, outside the transaction: there are
no appends of its own for them to see.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import replace

from eskit.domain.events import Event
from eskit.errors import ConfigurationError
from eskit.store.bookkeeping import CheckpointSession, DeadLetterSession
from eskit.store.browsing import BrowsingThrough, LogBrowser
from eskit.store.forwarding import ForwardingStore
from eskit.store.leases import LeaseSession
from eskit.store.port import EventStoreBackend
from eskit.store.queue import QueueSession
from eskit.store.records import (
    AppendResult,
    ExpectedVersion,
    LogPage,
    Metadata,
    NewEvent,
    StoredEvent,
)
from eskit.store.rows import (
    DocumentSession,
    SchemaSession,
    SearchSession,
    SQLSession,
    TableSession,
)
from eskit.store.sagas import SagaSession
from eskit.store.unit_of_work import (
    CommittedRows,
    TransactionalStore,
    UnitOfWork,
    has_transactions,
)

__all__ = ["BrowsableSplitStore", "SplitStore", "split_store"]


class SplitStore(ForwardingStore):
    """``events`` for the event store port; ``read_models`` for transactions and rows.

    Raises ConfigurationError if ``events`` has transactions of its own (its read models
    belong beside its events) or ``read_models`` has none. Closing it closes both.
    """

    def __init__(self, *, events: EventStoreBackend, read_models: TransactionalStore) -> None:
        if has_transactions(events):
            raise ConfigurationError(
                f"{type(events).__name__} keeps read models beside its events: it needs no "
                "read-model database of its own"
            )
        if not has_transactions(read_models):
            raise ConfigurationError(
                f"a read-model database needs transactions; {type(read_models).__name__} "
                "has none (use SQLite or PostgreSQL)"
            )
        super().__init__(events)
        self.read_models = read_models
        self.capabilities = replace(events.capabilities, transactions=True, events_apart=True)

    def transaction(self) -> AbstractAsyncContextManager[UnitOfWork]:
        """A transaction of the read-model database; its ``append`` raises (see module)."""
        return self._transaction()

    @asynccontextmanager
    async def _transaction(self) -> AsyncIterator[UnitOfWork]:
        async with self.read_models.transaction() as tx:
            yield _RowsOnly(tx, self.inner)

    @property
    def committed(self) -> CommittedRows:
        """The read-model database's committed rows."""
        return self.read_models.committed

    async def migrate(self) -> list[str]:
        """Set up both stores; the names of what each applied."""
        return [*await self.inner.migrate(), *await self.read_models.migrate()]

    async def close(self) -> None:
        """Close both stores."""
        try:
            await self.inner.close()
        finally:
            await self.read_models.close()


class _RowsOnly:
    """A read-model transaction, with the log read from the event store beside it."""

    def __init__(self, tx: UnitOfWork, events: EventStoreBackend) -> None:
        self._tx = tx
        self._events = events

    @property
    def tables(self) -> TableSession:
        return self._tx.tables

    @property
    def documents(self) -> DocumentSession:
        return self._tx.documents

    @property
    def search(self) -> SearchSession:
        return self._tx.search

    @property
    def schema(self) -> SchemaSession:
        return self._tx.schema

    @property
    def checkpoints(self) -> CheckpointSession:
        return self._tx.checkpoints

    @property
    def dead_letters(self) -> DeadLetterSession:
        return self._tx.dead_letters

    @property
    def sql(self) -> SQLSession:
        return self._tx.sql

    @property
    def queue(self) -> QueueSession:
        return self._tx.queue

    @property
    def sagas(self) -> SagaSession:
        return self._tx.sagas

    @property
    def leases(self) -> LeaseSession:
        return self._tx.leases

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """Refused: the events would not commit with this transaction's rows."""
        raise ConfigurationError(
            f"cannot append to {stream_id!r} inside a read-model transaction: the events "
            f"live in {type(self._events).__name__}, apart from the read models, so they "
            "would not commit together (inline projections, synchronous reactors and "
            "handlers that append in their transaction need SQLite or PostgreSQL as the "
            "event store)"
        )

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
        visible_only: bool = True,
    ) -> LogPage:
        """The event store's committed log (it holds nothing back: ``visible_only`` is moot)."""
        return await self._events.read_page(
            after=after, limit=limit, stream_types=stream_types, event_types=event_types
        )

    async def read_stream(
        self, stream_id: str, *, from_version: int = 1, to_version: int | None = None
    ) -> list[StoredEvent]:
        """The stream's committed events, from the event store."""
        return await self._events.read_stream(
            stream_id, from_version=from_version, to_version=to_version
        )

    async def record_processed(self, consumer: str, message_ids: Sequence[str]) -> list[str]:
        return await self._tx.record_processed(consumer, message_ids)

    async def stream_versions(self, consumer: str, stream_ids: Collection[str]) -> dict[str, int]:
        return await self._tx.stream_versions(consumer, stream_ids)

    async def record_stream_versions(self, consumer: str, versions: Mapping[str, int]) -> None:
        await self._tx.record_stream_versions(consumer, versions)


class BrowsableSplitStore(SplitStore, BrowsingThrough):
    """A :class:`SplitStore` whose events store browses its log newest first
    (:class:`~eskit.store.browsing.LogBrowser`), as the JetStream store does: the operator
    console's lists of stream types, streams and past events then work on it too."""

    def __init__(self, *, events: EventStoreBackend, read_models: TransactionalStore) -> None:
        if not isinstance(events, LogBrowser):
            raise TypeError(f"{type(events).__name__} does not browse its log")
        super().__init__(events=events, read_models=read_models)
        self._browser: LogBrowser = events


def split_store(*, events: EventStoreBackend, read_models: TransactionalStore) -> SplitStore:
    """The pair, browsable when ``events`` browses its log."""
    if isinstance(events, LogBrowser):
        return BrowsableSplitStore(events=events, read_models=read_models)
    return SplitStore(events=events, read_models=read_models)
