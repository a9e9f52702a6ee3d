"""The event store port: append-only streams plus one trustworthy global log.

Every adapter (``memory``, ``sqlite``, ``postgres``, ``jetstream``) passes the contract suite in
:mod:`eskit.testing.contract`; the application layer sees only these protocols. What a
store can do beyond them it says in its :class:`StoreCapabilities` (see
:mod:`eskit.store.unit_of_work` for transactions).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from eskit.domain.events import Event
from eskit.store.commits import AppendSignal, CommitListener
from eskit.store.records import (
    AppendResult,
    CommandOutcome,
    EventPayload,
    ExpectedVersion,
    LogPage,
    LogSpan,
    Metadata,
    NewEvent,
    ReadHorizon,
    Snapshot,
    StoredEvent,
    StoreSaturation,
    StreamInfo,
)

__all__ = [
    "CommandOutcomeStore",
    "EventStore",
    "EventStoreBackend",
    "SnapshotStore",
    "StoreCapabilities",
]


@dataclass(frozen=True, slots=True)
class StoreCapabilities:
    """What a store offers beyond the event store port.

    ``transactions``: :meth:`~eskit.store.unit_of_work.TransactionalStore.transaction`
    and ``committed``, so that read models, checkpoints and processed message ids live in
    the store's own database and commit with appends. ``other_processes``: a
    :class:`~eskit.store.commits.CommitListener` that hears commits of other processes.
    ``read_ahead``: reading the next page of the log while the last one is handled pays,
    as the database reads in a process of its own (a store that reads in this process's
    threads would only compete with the handling for the interpreter).
    ``events_apart``: the transactions hold the rows but not the events, which live in
    another store (:class:`~eskit.store.split.SplitStore`): ``tx.append`` is refused, so
    inline projections and synchronous reactors cannot run on it.
    """

    transactions: bool = False
    other_processes: bool = False
    read_ahead: bool = False
    events_apart: bool = False


@runtime_checkable
class EventStore(Protocol):
    """Append-only event streams and the global log over all of them."""

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """Append ``events`` to ``stream_id`` atomically: all of them or none.

        ``expected_version`` is an exact version (0: the stream must not exist) or one of
        ``ANY``, ``NO_STREAM``, ``STREAM_EXISTS``. ``metadata`` is merged under each event's
        own. If every event id is already stored in this stream, nothing is written and the
        original outcome is returned (``deduplicated=True``).

        Raises ConcurrencyError if the stream is not as expected, DuplicateEventError if an
        event id is stored elsewhere, StoreUnavailableError if the store cannot be reached.
        """
        ...

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[StoredEvent]:
        """Events of one stream in version order, optionally bounded by version or record time."""
        ...

    async def read_payloads(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[EventPayload]:
        """Like read_stream, but only what folding events into state needs: loads are faster."""
        ...

    async def read_batch(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """Up to ``limit`` events after global position ``after``, in global order.

        Never returns an event while one with a lower position may still commit: a reader
        that continues after the last position it got misses nothing.
        """
        ...

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogPage:
        """Like :meth:`read_batch`, with the head of the log read in the same snapshot.

        One round trip where the backend allows: what a subscription needs for each step.
        """
        ...

    async def count_events(
        self,
        *,
        after: int,
        up_to: int,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogSpan:
        """How many events lie in positions ``(after, up_to]`` (counted: positions are not
        dense), and the record time of the oldest of them."""
        ...

    def read_all(
        self,
        *,
        after: int = 0,
        batch_size: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> AsyncIterator[StoredEvent]:
        """Every event after ``after`` in global order, fetched ``batch_size`` at a time."""
        ...

    async def stream_version(self, stream_id: str) -> int:
        """The stream's current version; 0 when it does not exist."""
        ...

    async def stream_exists(self, stream_id: str) -> bool:
        """Whether the stream has at least one event."""
        ...

    async def last_position(self) -> int:
        """The highest global position a reader may see now (0 for an empty store)."""
        ...

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """Streams in order of creation, starting after the stream created at ``after``."""
        ...

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """The stored events with these ids (any order; missing ids are left out)."""
        ...

    async def read_horizon(self) -> ReadHorizon:
        """How far global readers may go now, and which transactions hold them back."""
        ...

    async def migrate(self) -> list[str]:
        """Apply pending schema migrations; returns the names applied."""
        ...

    async def close(self) -> None:
        """Release connections and threads. Idempotent."""
        ...


@runtime_checkable
class SnapshotStore(Protocol):
    """The latest snapshot of each stream."""

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """Store ``snapshot``, replacing an older one of the same stream (never a newer one)."""
        ...

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """The stream's latest snapshot, if any."""
        ...


@runtime_checkable
class CommandOutcomeStore(Protocol):
    """Outcomes of commands that recorded no event, by command id (see CommandOutcome)."""

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """Keep ``outcome`` unless one is kept for its command id already; the first one wins.

        Returns the outcome kept: ``outcome`` itself (with its record time) or the earlier one.
        """
        ...

    async def find_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """The outcome kept for ``command_id``, if any."""
        ...


@runtime_checkable
class EventStoreBackend(EventStore, SnapshotStore, CommandOutcomeStore, Protocol):
    """What every adapter of eskit provides: events, snapshots and command outcomes.

    ``appended`` fires after each commit made through this object; ``capabilities`` says
    what else the store offers.
    """

    appended: AppendSignal
    capabilities: StoreCapabilities

    def commit_listener(self) -> CommitListener | None:
        """A listener that fires ``appended`` when other processes commit (None: no such
        thing, as for a store that lives in this process)."""
        ...

    async def read_since_snapshot(
        self, stream_id: str, *, schema_version: int
    ) -> tuple[Snapshot | None, list[EventPayload]]:
        """The stream's snapshot (if one of ``schema_version`` exists) and the events after it.

        Read together, in one round trip where the backend allows: loading an aggregate
        costs one query, snapshot or not.
        """
        ...

    def saturation(self) -> StoreSaturation:
        """How busy the store's connections and writer are now, from memory (no I/O)."""
        ...
