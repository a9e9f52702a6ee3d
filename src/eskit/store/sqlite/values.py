"""Python values to what SQLite stores, and back.

SQLite has no time, boolean or JSON types: times are ISO-8601 UTC text with microseconds
(fixed width, so text order is time order), booleans integers, JSON text.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import orjson

from eskit.store.bookkeeping import CheckpointRow, DeadLetter
from eskit.store.records import CommandOutcome, Snapshot, StoredEvent

__all__ = [
    "checkpoint_from_row",
    "dead_letter_from_row",
    "event_from_row",
    "from_column",
    "outcome_from_row",
    "snapshot_from_row",
    "timestamp",
    "to_column",
]


def timestamp(moment: datetime) -> str:
    """``moment`` as stored: fixed-width ISO-8601 in UTC, with microseconds."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def now() -> str:
    """The current time as stored."""
    return timestamp(datetime.now(UTC))


def event_from_row(row: tuple[Any, ...]) -> StoredEvent:
    """A stored event from a row of the ten event columns (ids, JSON and times decode lazily)."""
    return StoredEvent(*row)


def snapshot_from_row(row: tuple[Any, ...]) -> Snapshot:
    """A snapshot from its row."""
    stream_id, stream_type, version, schema, state, recorded_at = row
    return Snapshot(
        stream_id, stream_type, version, schema, orjson.loads(state), _time(recorded_at)
    )


def outcome_from_row(row: tuple[Any, ...]) -> CommandOutcome:
    """A command outcome from its row."""
    command_id, stream_id, version, position, fingerprint, recorded_at = row
    return CommandOutcome(
        uuid.UUID(command_id), stream_id, version, position, fingerprint, _time(recorded_at)
    )


def checkpoint_from_row(row: tuple[Any, ...]) -> CheckpointRow:
    """A checkpoint from its row."""
    name, position, updated, error, error_position, count, error_at = row
    return CheckpointRow(
        name, int(position), _time(updated), error, error_position, int(count), _time(error_at)
    )


def dead_letter_from_row(row: tuple[Any, ...]) -> DeadLetter:
    """A parked event from its row."""
    projection, position, event_id, stream_id, event_type, error, parked_at = row
    return DeadLetter(
        projection, int(position), event_id, stream_id, event_type, error, _time(parked_at)
    )


def _time(value: str | None) -> Any:
    return None if value is None else datetime.fromisoformat(value)


def to_column(kind: type, value: Any) -> Any:
    """A checked read-model value (see ``eskit.store.rows``) as a parameter."""
    if value is None:
        return None
    if kind is dict or kind is list:
        return orjson.dumps(value).decode()
    if kind is bool:
        return int(value)
    if kind is datetime:
        return timestamp(value)
    return value


def from_column(kind: type, value: Any) -> Any:
    """A stored read-model value as its column's Python type."""
    if value is None:
        return None
    if kind is datetime:
        return datetime.fromisoformat(value).astimezone(UTC)
    if kind is dict or kind is list:
        return orjson.loads(value)
    if kind is bool:
        return bool(value)
    return value
