"""Events as messages: the headers a stored event travels with, and reading them back.

The body is the event's data as JSON, unchanged. Everything else a consumer needs to place
the event travels in headers, so a consumer can route, deduplicate and drop a message
without parsing its body.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from eskit.messaging.errors import MessageDecodingError
from eskit.messaging.message import Delivery, OutgoingMessage
from eskit.store import StoredEvent

__all__ = ["HEADERS", "PREVIOUS_VERSION", "IncomingEvent", "event_message", "incoming_event"]

HEADERS = (
    "eskit-event-id",
    "eskit-event-type",
    "eskit-schema-version",
    "eskit-stream-id",
    "eskit-stream-type",
    "eskit-version",
    "eskit-position",
    "eskit-recorded-at",
)
"""Headers every event message carries; correlation, causation and the W3C trace context
(``eskit-correlation-id``, ``eskit-causation-id``, ``traceparent``, ``tracestate``) travel
too when the event has them."""

PREVIOUS_VERSION = "eskit-previous-version"
"""The version of the event published before this one in the same stream (0 for its first),
sent by a relay that publishes every event of the streams it relays. A consumer's members
use it to apply each stream in order even when one of them got a later event first."""

_FROM_METADATA = {
    "correlation_id": "eskit-correlation-id",
    "causation_id": "eskit-causation-id",
    "traceparent": "traceparent",
    "tracestate": "tracestate",
}


def _body(raw: dict[str, Any] | str | bytes) -> bytes:
    if isinstance(raw, bytes):
        return raw
    if isinstance(raw, str):
        return raw.encode()
    return orjson.dumps(raw)


def event_message(event: StoredEvent, *, previous: bool = False) -> OutgoingMessage:
    """``event`` as a message keyed by its stream, identified by its event id.

    With ``previous``, the message names the version before it (``PREVIOUS_VERSION``): only
    for a sender that publishes every event of the stream, or consumers would wait for
    events that never come.
    """
    event_id = str(event.event_id)
    headers = {
        "eskit-event-id": event_id,
        "eskit-event-type": event.event_type,
        "eskit-schema-version": str(event.schema_version),
        "eskit-stream-id": event.stream_id,
        "eskit-stream-type": event.stream_type,
        "eskit-version": str(event.version),
        "eskit-position": str(event.position),
        "eskit-recorded-at": event.recorded_at.isoformat(),
    }
    if previous:
        headers[PREVIOUS_VERSION] = str(event.version - 1)
    metadata = event.metadata
    for key, header in _FROM_METADATA.items():
        value = metadata.get(key)
        if isinstance(value, str):
            headers[header] = value
    return OutgoingMessage(
        message_id=event_id,
        stream_type=event.stream_type,
        key=event.stream_id,
        body=_body(event.raw_data),
        headers=headers,
    )


@dataclass(frozen=True, slots=True)
class IncomingEvent:
    """An event read back from a message, with where it came from."""

    event_id: str
    event_type: str
    schema_version: int
    stream_id: str
    stream_type: str
    version: int
    position: int
    data: dict[str, Any]
    headers: Mapping[str, str]
    previous_version: int | None = None
    """The version of the stream's event published before this one, when the sender knows."""


def incoming_event(delivery: Delivery) -> IncomingEvent:
    """The event ``delivery`` carries; ``MessageDecodingError`` naming what is wrong."""
    headers = delivery.headers
    missing = [name for name in HEADERS if name not in headers]
    if missing:
        raise MessageDecodingError(delivery.message_id, "missing_header", ", ".join(missing))
    try:
        data = orjson.loads(delivery.body)
    except orjson.JSONDecodeError as exc:
        raise MessageDecodingError(delivery.message_id, "not_json", str(exc)) from exc
    if not isinstance(data, dict):
        raise MessageDecodingError(
            delivery.message_id, "not_json", f"the body is a {type(data).__name__}, not an object"
        )
    try:
        numbers = {
            name: int(headers[f"eskit-{name.replace('_', '-')}"])
            for name in ("schema_version", "version", "position")
        }
        previous = headers.get(PREVIOUS_VERSION)
        previous_version = None if previous is None else int(previous)
    except ValueError as exc:
        raise MessageDecodingError(delivery.message_id, "bad_header", str(exc)) from exc
    return IncomingEvent(
        event_id=headers["eskit-event-id"],
        event_type=headers["eskit-event-type"],
        stream_id=headers["eskit-stream-id"],
        stream_type=headers["eskit-stream-type"],
        data=data,
        headers=headers,
        previous_version=previous_version,
        **numbers,
    )
