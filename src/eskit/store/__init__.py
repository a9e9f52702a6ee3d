"""The event store: the port, its records, the unit of work, and the adapters.

Ports: :class:`EventStore` (and :class:`EventStoreBackend`, what every adapter offers),
:class:`TransactionalStore` / :class:`UnitOfWork` (rows committed beside the events), the
read-model rows (``eskit.store.rows``) and bookkeeping (``eskit.store.bookkeeping``).
Adapters: :class:`InMemoryEventStore`, :class:`SQLiteEventStore` and, with the
``postgres`` extra, ``eskit.store.postgres.PostgresEventStore``, with the ``nats`` extra
``eskit.store.jetstream.JetStreamEventStore``; :class:`SplitStore` pairs a store without
transactions with a read-model database; :func:`open_store` picks one from a URL.
"""

from eskit.store.bookkeeping import CheckpointRow, DeadLetter
from eskit.store.browsing import LogBrowser, StreamTypeCount
from eskit.store.commits import AppendSignal, CommitListener
from eskit.store.forwarding import ForwardingStore
from eskit.store.memory import InMemoryEventStore
from eskit.store.port import (
    CommandOutcomeStore,
    EventStore,
    EventStoreBackend,
    SnapshotStore,
    StoreCapabilities,
)
from eskit.store.records import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    CommandOutcome,
    EventPayload,
    ExpectedState,
    ExpectedVersion,
    HorizonBlocker,
    LogPage,
    LogSpan,
    NewEvent,
    ReadHorizon,
    Snapshot,
    StoredEvent,
    StoreSaturation,
    StreamInfo,
)
from eskit.store.split import SplitStore
from eskit.store.sqlite import SQLiteEventStore
from eskit.store.unit_of_work import (
    CommittedRows,
    TransactionalStore,
    UnitOfWork,
    has_transactions,
    require_transactions,
)
from eskit.store.urls import open_store

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "AppendSignal",
    "CheckpointRow",
    "CommandOutcome",
    "CommandOutcomeStore",
    "CommitListener",
    "CommittedRows",
    "DeadLetter",
    "EventPayload",
    "EventStore",
    "EventStoreBackend",
    "ExpectedState",
    "ExpectedVersion",
    "ForwardingStore",
    "HorizonBlocker",
    "InMemoryEventStore",
    "LogBrowser",
    "LogPage",
    "LogSpan",
    "NewEvent",
    "ReadHorizon",
    "SQLiteEventStore",
    "Snapshot",
    "SnapshotStore",
    "SplitStore",
    "StoreCapabilities",
    "StoreSaturation",
    "StoredEvent",
    "StreamInfo",
    "StreamTypeCount",
    "TransactionalStore",
    "UnitOfWork",
    "has_transactions",
    "open_store",
    "require_transactions",
]
