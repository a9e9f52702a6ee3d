"""The event store: the port, its records, and the adapters (memory, sqlite, postgres)."""

from eskit.store.memory import InMemoryEventStore
from eskit.store.port import CommandOutcomeStore, EventStore, EventStoreBackend, SnapshotStore
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
    NewEvent,
    ReadHorizon,
    Snapshot,
    StoredEvent,
    StreamInfo,
)
from eskit.store.sqlite import SQLiteEventStore
from eskit.store.urls import open_store

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "CommandOutcome",
    "CommandOutcomeStore",
    "EventPayload",
    "EventStore",
    "EventStoreBackend",
    "ExpectedState",
    "ExpectedVersion",
    "HorizonBlocker",
    "InMemoryEventStore",
    "NewEvent",
    "ReadHorizon",
    "SQLiteEventStore",
    "Snapshot",
    "SnapshotStore",
    "StoredEvent",
    "StreamInfo",
    "open_store",
]
