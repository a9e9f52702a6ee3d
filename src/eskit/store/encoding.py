"""Turning domain events into rows, shared by every adapter."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from eskit.domain.events import Event
from eskit.domain.ids import uuid7
from eskit.store.records import Metadata, NewEvent

__all__ = ["MAX_EVENTS_PER_APPEND", "EncodedEvent", "encode_events", "json_dumps"]

MAX_EVENTS_PER_APPEND = 65_535
"""One append (one transaction) holds at most this many events; split larger imports."""


def json_dumps(value: Any) -> str:
    """Compact JSON text, as stored."""
    return orjson.dumps(value).decode()


@dataclass(frozen=True, slots=True)
class EncodedEvent:
    """One event ready to be written: ids and names plus JSON text."""

    event_id: uuid.UUID
    event_type: str
    schema_version: int
    data: str
    metadata: str


def encode_events(
    events: Sequence[Event | NewEvent], metadata: Metadata | None = None
) -> list[EncodedEvent]:
    """Serialize ``events``, giving each a UUIDv7 unless it came with an id.

    Raises ValueError for an empty id clash within the batch or an over-large batch.
    """
    if len(events) > MAX_EVENTS_PER_APPEND:
        raise ValueError(
            f"an append holds at most {MAX_EVENTS_PER_APPEND} events, got {len(events)}"
        )
    base = dict(metadata) if metadata else {}
    base_json = json_dumps(base)  # shared by every event that brings no metadata of its own
    encoded: list[EncodedEvent] = []
    for item in events:
        if isinstance(item, NewEvent):
            event, event_id = item.event, item.event_id
            meta = json_dumps(_merge(base, item.metadata)) if item.metadata else base_json
        else:
            event, event_id, meta = item, uuid7(), base_json
        encoded.append(
            EncodedEvent(
                event_id,
                event.event_type,
                event.schema_version,
                event.__pydantic_serializer__.to_json(event).decode(),
                meta,
            )
        )
    if len({e.event_id for e in encoded}) != len(encoded):
        raise ValueError("the same event id appears twice in one append")
    return encoded


def _merge(base: dict[str, Any], own: Mapping[str, Any]) -> dict[str, Any]:
    if not own:
        return base
    return {**base, **own}
