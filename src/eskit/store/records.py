"""Values the event store takes and gives: expected versions, new and stored events."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

import orjson

from eskit.domain.events import Event
from eskit.domain.ids import uuid7

__all__ = [
    "ANY",
    "NO_STREAM",
    "STREAM_EXISTS",
    "AppendResult",
    "CommandOutcome",
    "EventPayload",
    "ExpectedState",
    "ExpectedVersion",
    "HorizonBlocker",
    "LogPage",
    "LogSpan",
    "NewEvent",
    "ReadHorizon",
    "Snapshot",
    "StoreSaturation",
    "StoredEvent",
    "StreamInfo",
]

Metadata = Mapping[str, Any]


class ExpectedState(enum.Enum):
    """What an append expects of the stream when it does not name an exact version."""

    ANY = "any"
    """No check: append after whatever is there."""
    NO_STREAM = "no_stream"
    """The stream must not exist yet (same as expecting version 0)."""
    STREAM_EXISTS = "stream_exists"
    """The stream must have at least one event."""

    def __str__(self) -> str:
        return self.value


ANY = ExpectedState.ANY
NO_STREAM = ExpectedState.NO_STREAM
STREAM_EXISTS = ExpectedState.STREAM_EXISTS

ExpectedVersion = int | ExpectedState
"""An exact version (0 = the stream must not exist) or one of the ExpectedState options."""


@dataclass(frozen=True, slots=True)
class NewEvent:
    """A domain event about to be appended, with its id and metadata.

    Supply ``event_id`` yourself to make a retried append idempotent: an event id that is
    already stored is not written again.
    """

    event: Event
    event_id: uuid.UUID = field(default_factory=uuid7)
    metadata: Metadata = field(default_factory=dict)


class StoredEvent:
    """One event as recorded: where it sits in the log and what it says.

    ``position`` orders every event of the store; a reader of "everything after P" sees
    each committed event exactly once, in position order. Positions grow but need not be
    dense (on PostgreSQL a rolled-back append leaves a hole).

    Readers build hundreds of thousands of these, so the fields that cost something to
    decode (``event_id``, ``data``, ``metadata``, ``recorded_at``) are decoded on first
    use: a projection that hands ``raw_data`` to its event's validator never parses the
    JSON twice, and one that never looks at the metadata never parses it at all. Treat a
    stored event as read-only.
    """

    __slots__ = (
        "_data",
        "_event_id",
        "_metadata",
        "_recorded_at",
        "event_type",
        "position",
        "schema_version",
        "stream_id",
        "stream_type",
        "version",
    )

    def __init__(
        self,
        position: int,
        stream_id: str,
        stream_type: str,
        version: int,
        event_id: uuid.UUID | str | bytes,
        event_type: str,
        schema_version: int,
        data: dict[str, Any] | str | bytes,
        metadata: dict[str, Any] | str | bytes,
        recorded_at: datetime | str,
    ) -> None:
        self.position = position
        self.stream_id = stream_id
        self.stream_type = stream_type
        self.version = version
        self._event_id = event_id
        self.event_type = event_type
        self.schema_version = schema_version
        self._data = data
        self._metadata = metadata
        self._recorded_at = recorded_at

    @property
    def event_id(self) -> uuid.UUID:
        """The event's unique id."""
        value = self._event_id
        if not isinstance(value, uuid.UUID):
            value = self._event_id = _stored_uuid(value)
        return value

    @property
    def data(self) -> dict[str, Any]:
        """The event's fields as JSON values."""
        value = self._data
        if not isinstance(value, dict):
            value = self._data = orjson.loads(value)
        return value

    @property
    def raw_data(self) -> dict[str, Any] | str | bytes:
        """``data`` as read: JSON text until someone asked for ``data`` (validators take both)."""
        return self._data

    @property
    def metadata(self) -> dict[str, Any]:
        """Correlation and causation ids, actor, trace context: whatever the append recorded."""
        value = self._metadata
        if not isinstance(value, dict):
            value = self._metadata = orjson.loads(value)
        return value

    @property
    def recorded_at(self) -> datetime:
        """When the event was committed, in UTC."""
        value = self._recorded_at
        if not isinstance(value, datetime):
            value = self._recorded_at = datetime.fromisoformat(value)
        return value

    def _fields(self) -> tuple[Any, ...]:
        return (
            self.position,
            self.stream_id,
            self.stream_type,
            self.version,
            self.event_id,
            self.event_type,
            self.schema_version,
            self.data,
            self.metadata,
            self.recorded_at,
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, StoredEvent):
            return NotImplemented
        return self._fields() == other._fields()

    __hash__ = None  # type: ignore[assignment]  # data and metadata are dicts

    def __repr__(self) -> str:
        return (
            f"StoredEvent(position={self.position}, stream_id={self.stream_id!r}, "
            f"stream_type={self.stream_type!r}, version={self.version}, "
            f"event_id={self.event_id}, event_type={self.event_type!r}, "
            f"schema_version={self.schema_version}, data={self.data!r}, "
            f"metadata={self.metadata!r}, recorded_at={self.recorded_at.isoformat()})"
        )


_new = object.__new__
_set = object.__setattr__
_UNKNOWN = uuid.SafeUUID.unknown


def _stored_uuid(value: str | bytes) -> uuid.UUID:
    """A UUID the store wrote itself, without ``uuid.UUID``'s checks of untrusted input:
    half the cost, for every id a reader of the log looks at."""
    if isinstance(value, bytes):
        return uuid.UUID(bytes=value)
    made = _new(uuid.UUID)
    _set(made, "int", int(value.replace("-", ""), 16))
    _set(made, "is_safe", _UNKNOWN)
    return made


@dataclass(frozen=True, slots=True)
class LogPage:
    """A page of the global log and the head it was read against.

    ``head`` is the last position readers could see when the page was read (in the same
    snapshot). When a filtered page is shorter than asked, it holds every matching event up
    to ``head``: a reader may move its checkpoint to ``head`` even if the last events
    there were not its own.
    """

    events: list[StoredEvent]
    head: int


@dataclass(frozen=True, slots=True)
class LogSpan:
    """How many events of the log lie in a span of positions, and when the oldest was recorded."""

    count: int
    oldest: datetime | None


class EventPayload(NamedTuple):
    """The part of a stored event that rebuilding an aggregate needs, and no more.

    ``data`` may still be JSON text: the event class's validator parses and checks it in
    one pass, which is cheaper than building a dict first.
    """

    position: int
    version: int
    event_type: str
    schema_version: int
    data: dict[str, Any] | str


@dataclass(frozen=True, slots=True)
class AppendResult:
    """The outcome of an append.

    ``version`` is the stream's version after it and ``position`` the global position of
    its last event. ``deduplicated`` is true when every event id was already stored, in
    which case the fields report that original append and nothing was written.
    """

    stream_id: str
    version: int
    position: int
    deduplicated: bool = False


@dataclass(frozen=True, slots=True)
class CommandOutcome:
    """The answer to a command that recorded no event, kept so that its retries repeat it.

    A command whose events are stored is remembered by them; one that decided to change
    nothing (a payment seen before, say) leaves no event behind, so its outcome is kept
    here under its command id. ``fingerprint`` names the request it answered, so that the
    same command id sent for another request can be refused.
    """

    command_id: uuid.UUID
    stream_id: str
    version: int
    position: int
    fingerprint: str = ""
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An aggregate's state as of ``version``; ``schema_version`` is the aggregate's snapshot schema."""

    stream_id: str
    stream_type: str
    version: int
    schema_version: int
    state: dict[str, Any]
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class StreamInfo:
    """A stream's identity, current version and first and last write times.

    ``first_position`` is the global position of its first event: pass the last one of a
    page as ``after`` to :meth:`EventStore.list_streams` for the next page.
    """

    stream_id: str
    stream_type: str
    version: int
    created_at: datetime
    updated_at: datetime
    first_position: int


@dataclass(frozen=True, slots=True)
class HorizonBlocker:
    """A transaction in progress that keeps committed events from readers of the global log."""

    pid: int | None
    database: str | None
    user: str | None
    application: str | None
    state: str | None
    age_s: float | None
    query: str | None


@dataclass(frozen=True, slots=True)
class ReadHorizon:
    """How far readers of the global log may go now, and what holds them back.

    ``pending_events`` counts events already committed beyond ``position`` that readers must
    not see yet, because a transaction that began earlier may still commit lower positions;
    ``blockers`` names those transactions, oldest first.
    """

    position: int
    pending_events: int = 0
    blockers: tuple[HorizonBlocker, ...] = ()


@dataclass(frozen=True, slots=True)
class StoreSaturation:
    """How busy a store object is in this process, read from memory (no I/O).

    ``pool_open``, ``pool_in_use``, ``pool_max``: its connection pool (0 for a store
    without one); ``pool_waiting``: callers waiting for a connection. ``write_queue``:
    writes queued for its writer (SQLite's writer thread, PostgreSQL's append combiner).
    """

    pool_open: int = 0
    pool_in_use: int = 0
    pool_max: int = 0
    pool_waiting: int = 0
    write_queue: int = 0
