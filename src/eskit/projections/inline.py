"""Inline projections: read models updated in the same transaction as the append.

Wrap the store; hand the wrapper to the repository or command handler. Every append then
runs the inline projections' handlers on the new events before the commit, so a query right
after a command sees its effect, and a handler that raises refuses the whole append (the
command fails; nothing is half-written). Reads of the read model inside handlers see the
transaction's own writes. Appends made through the wrapper's own units of work
(``store.transaction()``) run them too. Use it for small, cheap read models; the rest
belong to asynchronous runners.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from eskit.domain.events import Event
from eskit.projections.projection import Projection, ProjectionContext
from eskit.projections.schema import ensure_tables
from eskit.store.forwarding import ForwardingStore
from eskit.store.port import EventStoreBackend
from eskit.store.records import AppendResult, ExpectedVersion, Metadata, NewEvent, StoredEvent
from eskit.store.unit_of_work import TransactionalStore, UnitOfWork, require_transactions

__all__ = ["InlineProjections"]


class InlineProjections(ForwardingStore):
    """An event store whose appends also run ``projections`` inside their transaction.

    Raises ConfigurationError (naming ``needed_by``) for a store without transactions, or
    one whose transactions cannot append (its events live apart from its rows).
    """

    def __init__(
        self,
        store: EventStoreBackend,
        projections: Sequence[Projection],
        *,
        needed_by: str = "inline projections",
    ) -> None:
        # appends in the read models' transaction: refused now, not at the first command,
        # by a store whose events live apart from its rows
        self.transactional: TransactionalStore = require_transactions(
            store, needed_by, appends=True
        )
        super().__init__(store)
        self.projections = list(projections)
        self._handled: list[tuple[Sequence[str] | None, frozenset[str]]] | None = None

    async def prepare(self) -> None:
        """Create the inline read models' tables if they are missing."""
        for projection in self.projections:
            await ensure_tables(self.transactional, projection.read_models)

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """See EventStore.append; the inline projections commit with the events."""
        if not self._handles_any(events, stream_type):
            # nothing for them to do: the store's own append (combined with others, no
            # read-back) is several times cheaper than a unit of work
            return await self.inner.append(
                stream_id,
                events,
                expected_version=expected_version,
                stream_type=stream_type,
                metadata=metadata,
            )
        async with self.transaction() as tx:
            return await tx.append(
                stream_id,
                events,
                expected_version=expected_version,
                stream_type=stream_type,
                metadata=metadata,
            )

    def _handles_any(self, events: Sequence[Event | NewEvent], stream_type: str) -> bool:
        """Whether an inline projection handles any of ``events`` appended to a stream of
        ``stream_type``."""
        if self._handled is None:  # what each projection reads, worked out once
            self._handled = [(p.stream_types, frozenset(p.event_types)) for p in self.projections]
        for stream_types, handled in self._handled:
            if stream_types is not None and stream_type not in stream_types:
                continue
            for item in events:
                event = item.event if isinstance(item, NewEvent) else item
                if event.event_type in handled:
                    return True
        return False

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[UnitOfWork]:
        """See TransactionalStore.transaction: its appends run the inline projections."""
        async with self.transactional.transaction() as tx:
            yield _ProjectingUnitOfWork(tx, self.projections)


class _ProjectingUnitOfWork:
    """A unit of work whose appends run the inline projections on what they wrote."""

    def __init__(self, tx: UnitOfWork, projections: Sequence[Projection]) -> None:
        self._tx = tx
        self._projections = projections
        self.tables = tx.tables
        self.documents = tx.documents
        self.search = tx.search
        self.schema = tx.schema
        self.checkpoints = tx.checkpoints
        self.dead_letters = tx.dead_letters
        self.sql = tx.sql
        self.queue = tx.queue
        self.sagas = tx.sagas
        self.leases = tx.leases
        self.read_page = tx.read_page
        self.read_stream = tx.read_stream
        self.record_processed = tx.record_processed
        self.stream_versions = tx.stream_versions
        self.record_stream_versions = tx.record_stream_versions

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """See UnitOfWork.append; then each inline projection handles the new events."""
        result = await self._tx.append(
            stream_id,
            events,
            expected_version=expected_version,
            stream_type=stream_type,
            metadata=metadata,
        )
        if result.deduplicated or not events:
            return result
        written = await self._tx.read_stream(
            stream_id, from_version=result.version - len(events) + 1, to_version=result.version
        )
        for projection in self._projections:
            mine = _handled_by(projection, written)
            if mine:
                await projection.handle_batch(ProjectionContext(self._tx), mine)
        return result


def _handled_by(projection: Projection, records: list[StoredEvent]) -> list[StoredEvent]:
    types = set(projection.event_types)
    streams = projection.stream_types
    return [
        r
        for r in records
        if r.event_type in types and (streams is None or r.stream_type in streams)
    ]
