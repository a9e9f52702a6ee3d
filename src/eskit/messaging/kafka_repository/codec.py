"""Events as Kafka records and back: the relay's envelope (``eskit.messaging.envelope``).

A record's key is the stream id (so one stream stays in one partition, in order), its value
the event's data as JSON, and its headers the envelope's: event id, type, schema version,
stream id and type, version, position, recorded-at, correlation and causation. Two more
travel with it: ``eskit-message-id`` (what the Kafka bus's consumers deduplicate by) and,
when the command had one, ``eskit-request-fingerprint``.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eskit.domain.events import Event
from eskit.messaging.envelope import HEADERS, event_message
from eskit.messaging.kafka_repository.errors import KafkaRecordError
from eskit.store.records import StoredEvent

__all__ = ["FINGERPRINT_HEADER", "RecordHeaders", "encode_event", "read_headers"]

FINGERPRINT_HEADER = "eskit-request-fingerprint"
Headers = list[tuple[str, bytes]]


def encode_event(
    event: Event,
    *,
    event_id: uuid.UUID,
    stream_id: str,
    stream_type: str,
    version: int,
    position: int,
    recorded_at: datetime,
    metadata: Mapping[str, Any],
) -> tuple[bytes, bytes, Headers]:
    """``event`` as a record: key, value and headers."""
    stored = StoredEvent(
        position,
        stream_id,
        stream_type,
        version,
        event_id,
        event.event_type,
        event.schema_version,
        event.model_dump_json().encode(),
        dict(metadata),
        recorded_at,
    )
    message = event_message(stored)
    headers = [("eskit-message-id", message.message_id.encode())]
    headers += [(name, value.encode()) for name, value in message.headers.items()]
    fingerprint = metadata.get("request_fingerprint")
    if isinstance(fingerprint, str):
        headers.append((FINGERPRINT_HEADER, fingerprint.encode()))
    return message.key.encode(), message.body, headers


@dataclass(slots=True)
class RecordHeaders:
    """What a record's headers say; the body is decoded only when the event is applied."""

    event_id: str
    event_type: str
    schema_version: int
    stream_id: str
    stream_type: str
    version: int
    position: int
    fingerprint: str


def read_headers(
    topic: str, partition: int, offset: int, headers: tuple[tuple[str, bytes], ...]
) -> RecordHeaders:
    """The envelope of one record; KafkaRecordError naming the record if it has none."""
    found = dict(headers)
    missing = [name for name in HEADERS if name not in found]
    if missing:
        raise KafkaRecordError(topic, partition, offset, "missing_header", ", ".join(missing))
    try:
        return RecordHeaders(
            event_id=found["eskit-event-id"].decode(),
            event_type=found["eskit-event-type"].decode(),
            schema_version=int(found["eskit-schema-version"]),
            stream_id=found["eskit-stream-id"].decode(),
            stream_type=found["eskit-stream-type"].decode(),
            version=int(found["eskit-version"]),
            position=int(found["eskit-position"]),
            fingerprint=found.get(FINGERPRINT_HEADER, b"").decode(),
        )
    except (ValueError, UnicodeDecodeError) as exc:
        raise KafkaRecordError(topic, partition, offset, "bad_header", str(exc)) from exc
