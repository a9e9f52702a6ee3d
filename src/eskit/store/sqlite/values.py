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
from eskit.store.encoding import json_dumps
from eskit.store.queue import QueuedCommand
from eskit.store.records import CommandOutcome, Snapshot, StoredEvent
from eskit.store.sagas import SagaRecord

__all__ = [
    "checkpoint_from_row",
    "dead_letter_from_row",
    "event_from_row",
    "from_column",
    "optional_json",
    "outcome_from_row",
    "queued_command_from_row",
    "queued_command_params",
    "saga_from_row",
    "saga_params",
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


def queued_command_from_row(row: tuple[Any, ...]) -> QueuedCommand:
    """A queued command from its row (``sql.QUEUE_COLUMNS``)."""
    (
        command_id,
        command_type,
        payload,
        available_at,
        enqueued_at,
        metadata,
        key,
        status,
        attempts,
        updated_at,
        lease_until,
        outcome,
        error,
    ) = row
    return QueuedCommand(
        uuid.UUID(command_id),
        command_type,
        payload,
        _time(available_at),
        _time(enqueued_at),
        orjson.loads(metadata),
        key,
        status,
        int(attempts),
        _time(updated_at),
        _time(lease_until),
        None if outcome is None else orjson.loads(outcome),
        error,
    )


def queued_command_params(command: QueuedCommand) -> tuple[Any, ...]:
    """A queued command as the parameters of its row (``sql.QUEUE_COLUMNS``); a command
    never written is last updated when it was enqueued."""
    return (
        str(command.id),
        command.command_type,
        command.payload,
        timestamp(command.available_at),
        timestamp(command.enqueued_at),
        json_dumps(command.metadata),
        command.key,
        command.status,
        command.attempts,
        timestamp(command.updated_at or command.enqueued_at),
        None if command.lease_until is None else timestamp(command.lease_until),
        optional_json(command.outcome),
        command.error,
    )


def optional_json(value: Any) -> str | None:
    """``value`` as JSON text; None stays NULL."""
    return None if value is None else json_dumps(value)


def saga_from_row(row: tuple[Any, ...]) -> SagaRecord:
    """A saga instance from its row (``sql.SAGA_COLUMNS``)."""
    saga, correlation_id, status, step, version, started_at, updated_at, state, reason = row
    return SagaRecord(
        saga,
        correlation_id,
        status,
        step,
        int(version),
        _time(started_at),
        _time(updated_at),
        orjson.loads(state),
        reason,
    )


def saga_params(record: SagaRecord) -> tuple[Any, ...]:
    """A saga instance as the parameters of its row (``sql.SAGA_COLUMNS``)."""
    return (
        record.saga,
        record.correlation_id,
        record.status,
        record.step,
        record.version,
        timestamp(record.started_at),
        timestamp(record.updated_at),
        json_dumps(record.state),
        record.reason,
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
