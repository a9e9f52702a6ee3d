"""eskit: event sourcing and CQRS for Python.

The public API in one place. Layers, innermost first:

- ``eskit.domain``: events, aggregates, commands, the event registry (pure, no I/O);
- ``eskit.store``: the event store port and its adapters (memory, SQLite, PostgreSQL);
- ``eskit.app``: the repository and command handling;
- ``eskit.cli``: the ``eskit`` command.
"""

from eskit.app import CommandHandler, CommandResult, EventMetadata, HistoryEntry, Repository
from eskit.domain import (
    Aggregate,
    Command,
    Event,
    EventRegistry,
    Upcaster,
    applies,
    derive_uuid7,
    new_id,
    uuid7,
)
from eskit.errors import (
    ConcurrencyError,
    ConfigurationError,
    DomainError,
    DuplicateEventError,
    EskitError,
    EventDecodingError,
    EventSchemaError,
    InvalidCommandError,
    NotFoundError,
    StoreUnavailableError,
    UnknownEventTypeError,
)
from eskit.settings import EskitSettings
from eskit.store import (
    ANY,
    NO_STREAM,
    STREAM_EXISTS,
    AppendResult,
    EventStore,
    EventStoreBackend,
    ExpectedState,
    ExpectedVersion,
    InMemoryEventStore,
    NewEvent,
    ReadHorizon,
    Snapshot,
    SnapshotStore,
    SQLiteEventStore,
    StoredEvent,
    StreamInfo,
    open_store,
)

__version__ = "0.1.0"

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "Aggregate",
    "AppendResult",
    "Command",
    "CommandHandler",
    "CommandResult",
    "ConcurrencyError",
    "ConfigurationError",
    "DomainError",
    "DuplicateEventError",
    "EskitError",
    "EskitSettings",
    "Event",
    "EventDecodingError",
    "EventMetadata",
    "EventRegistry",
    "EventSchemaError",
    "EventStore",
    "EventStoreBackend",
    "ExpectedState",
    "ExpectedVersion",
    "HistoryEntry",
    "InMemoryEventStore",
    "InvalidCommandError",
    "NewEvent",
    "NotFoundError",
    "ReadHorizon",
    "Repository",
    "SQLiteEventStore",
    "Snapshot",
    "SnapshotStore",
    "StoreUnavailableError",
    "StoredEvent",
    "StreamInfo",
    "UnknownEventTypeError",
    "Upcaster",
    "__version__",
    "applies",
    "derive_uuid7",
    "new_id",
    "open_store",
    "uuid7",
]
