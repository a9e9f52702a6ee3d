"""Events as JetStream messages, and back.

The body is the event's metadata and data, two JSON documents on two lines (JSON text
holds no raw newline). Headers carry what a reader needs before the body: the version,
the event type, its schema version, and the event id as ``Nats-Msg-Id`` (which also
lets the server drop a resent append within its duplicate window). The stream id and
type come from the subject; the record time is the server's.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote, unquote

from nats.aio.msg import Msg

from eskit.errors import CorruptRecordError
from eskit.store.encoding import EncodedEvent
from eskit.store.jetstream.subjects import StoreNames
from eskit.store.records import EventPayload, StoredEvent

__all__ = [
    "MSG_ID",
    "VERSION",
    "event_body",
    "event_headers",
    "event_payload",
    "message_time",
    "payload_of",
    "sequence_of",
    "stored_event",
    "version_of",
]

VERSION = "Eskit-Version"
EVENT_TYPE = "Eskit-Event-Type"
SCHEMA_VERSION = "Eskit-Schema-Version"
MSG_ID = "Nats-Msg-Id"
_STAMP = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z")


def event_headers(event: EncodedEvent, version: int) -> dict[str, str]:
    """The headers of ``event`` stored as ``version`` of its stream."""
    return {
        MSG_ID: str(event.event_id),
        VERSION: str(version),
        EVENT_TYPE: quote(event.event_type, safe=""),
        SCHEMA_VERSION: str(event.schema_version),
    }


def event_body(event: EncodedEvent) -> bytes:
    """Metadata and data, a line each."""
    return f"{event.metadata}\n{event.data}".encode()


def sequence_of(msg: Msg) -> int:
    """The stream sequence of a record read by a direct get."""
    return int((msg.headers or {})["Nats-Sequence"])


def version_of(msg: Msg, names: StoreNames) -> int:
    """The stream version an event record carries."""
    try:
        return int((msg.headers or {})[VERSION])
    except (KeyError, ValueError) as exc:
        raise _corrupt(msg, names, f"no valid {VERSION} header") from exc


def message_time(msg: Msg) -> datetime:
    """When the server stored the record (to the microsecond), in UTC."""
    stamp = (msg.headers or {}).get("Nats-Time-Stamp", "")
    match = _STAMP.fullmatch(stamp)
    if match is None:
        raise ValueError(f"not a JetStream time stamp: {stamp!r}")
    seconds, fraction = match.groups()
    micros = (fraction or "0")[:6].ljust(6, "0")
    return datetime.fromisoformat(f"{seconds}.{micros}").replace(tzinfo=UTC)


def stored_event(msg: Msg, names: StoreNames) -> StoredEvent:
    """The stored event a record holds; CorruptRecordError (naming its sequence) if it
    holds none: a record eskit did not write, or a damaged one, is never skipped."""
    headers = msg.headers or {}
    place = names.parse_event_subject(headers.get("Nats-Subject", msg.subject))
    if place is None:
        raise _corrupt(msg, names, f"subject {headers.get('Nats-Subject')!r} names no stream")
    metadata, newline, data = msg.data.partition(b"\n")
    try:
        if not newline:
            raise ValueError("the body is not metadata and data on two lines")
        stamp = headers["Nats-Time-Stamp"]
        if not stamp.endswith("Z"):
            raise ValueError(f"not a JetStream time stamp: {stamp!r}")
        return StoredEvent(
            position=sequence_of(msg),
            stream_id=place[1],
            stream_type=place[0],
            version=int(headers[VERSION]),
            event_id=_event_id(headers[MSG_ID]),
            event_type=unquote(headers[EVENT_TYPE]),
            schema_version=int(headers[SCHEMA_VERSION]),
            data=data,
            metadata=metadata,
            # parsed on first use (to the microsecond, as message_time): many readers
            # never look at it, and parsing it costs nearly half of building the event
            recorded_at=stamp,
        )
    except (KeyError, ValueError) as exc:
        raise _corrupt(msg, names, f"{type(exc).__name__}: {exc}") from exc


def event_payload(msg: Msg, names: StoreNames) -> EventPayload:
    """What folding needs of an event record, read straight from it (no StoredEvent on
    the way); CorruptRecordError as :func:`stored_event`. The record must come from a
    read of event subjects."""
    headers = msg.headers or {}
    _, newline, data = msg.data.partition(b"\n")
    try:
        if not newline:
            raise ValueError("the body is not metadata and data on two lines")
        return EventPayload(
            int(headers["Nats-Sequence"]),
            int(headers[VERSION]),
            unquote(headers[EVENT_TYPE]),
            int(headers[SCHEMA_VERSION]),
            data.decode(),
        )
    except (KeyError, ValueError) as exc:
        raise _corrupt(msg, names, f"{type(exc).__name__}: {exc}") from exc


def payload_of(event: StoredEvent) -> EventPayload:
    """What folding needs of ``event``."""
    raw = event.raw_data
    data = raw.decode() if isinstance(raw, bytes) else raw
    return EventPayload(event.position, event.version, event.event_type, event.schema_version, data)


def _event_id(text: str) -> str:
    if len(text) != 36 or text.count("-") != 4:
        raise ValueError(f"event id {text!r} is not a UUID")
    int(text.replace("-", ""), 16)
    return text


def _corrupt(msg: Msg, names: StoreNames, detail: str) -> CorruptRecordError:
    headers = msg.headers or {}
    return CorruptRecordError(
        f"JetStream stream {names.stream!r} sequence {headers.get('Nats-Sequence', '?')}",
        detail,
    )
