"""One append as one JetStream atomic batch: all of its records are stored, or none.

An append of n events to stream S publishes, in this order:

1. n id records ``<name>-ids.<event id>``, each expecting its subject to be empty: an
   event id stored before, in any stream and at any age, refuses the whole batch (the
   server's ``Nats-Msg-Id`` window alone would forget it after a while);
2. when the append creates S, its marker ``<name>-streams.<S>``;
3. the n events on ``<name>.<type>.<S>``, the first expecting the last record of
   ``<name>.*.<S>`` to be the one the writer read (0: none), which is the optimistic
   version check, whatever type another writer gave the stream.

Events come last, so the stream's last sequence is always an event's position. The
server checks the expectations when the batch commits, under its lock; readers see the
batch whole or not at all. An id record names how far after it its event sits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import quote

import orjson
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from eskit.errors import StoreUnavailableError
from eskit.store.encoding import EncodedEvent
from eskit.store.jetstream.records import event_body, event_headers
from eskit.store.jetstream.subjects import StoreNames

__all__ = [
    "CONFLICT_CODES",
    "MAX_EVENTS",
    "OFFSET",
    "BatchAck",
    "StreamState",
    "publish_append",
]

MAX_BATCH = 1000
"""The server's limit on messages in one atomic batch."""
MAX_EVENTS = (MAX_BATCH - 1) // 2
"""Events in one append: each brings an id record, and a new stream its marker."""
OFFSET = "Eskit-Offset"
"""On an id record: how many sequences after it its event was stored."""
STREAM_TYPE = "Eskit-Stream-Type"
CONFLICT_CODES = frozenset({10071, 10201})
"""Wrong last sequence (a version or id expectation failed); a duplicate message id."""
_EXPECT = "Nats-Expected-Last-Subject-Sequence"
_EXPECT_ON = "Nats-Expected-Last-Subject-Sequence-Subject"


@dataclass(frozen=True, slots=True)
class StreamState:
    """A stream as a writer last saw it: version, last sequence, type (0, 0, "": none)."""

    version: int
    last_sequence: int
    stream_type: str


@dataclass(frozen=True, slots=True)
class BatchAck:
    """The server's answer to a committed batch: the last sequence, or an error code."""

    sequence: int
    error_code: int | None = None
    description: str = ""


async def publish_append(
    client: Client,
    names: StoreNames,
    stream_id: str,
    state: StreamState,
    batch: Sequence[EncodedEvent],
    *,
    timeout_s: float,
) -> BatchAck:
    """Publish ``batch`` after ``state`` as one atomic batch; the commit's answer."""
    messages = _records(names, stream_id, state, batch)
    batch_id = uuid.uuid4().hex
    last = len(messages)
    try:
        for number, (subject, headers, body) in enumerate(messages, 1):
            headers["Nats-Batch-Id"] = batch_id
            headers["Nats-Batch-Sequence"] = str(number)
            if number < last:
                await client.publish(subject, body, headers=headers)
                continue
            headers["Nats-Batch-Commit"] = "1"
            reply = await client.request(subject, body, timeout=timeout_s, headers=headers)
    except (NatsTimeoutError, TimeoutError) as exc:
        raise StoreUnavailableError(
            f"JetStream did not confirm an append to {stream_id!r} within {timeout_s} s; "
            "it may or may not be stored: retrying it with the same event ids is safe"
        ) from exc
    except NoRespondersError as exc:
        raise StoreUnavailableError(
            f"no JetStream stream takes {names.event_subject(state.stream_type, stream_id)!r}"
            " (is the store migrated, and JetStream on?)"
        ) from exc
    except NatsError as exc:
        raise StoreUnavailableError(f"cannot append to JetStream: {exc!r}") from exc
    return _ack(reply.data)


def _records(
    names: StoreNames, stream_id: str, state: StreamState, batch: Sequence[EncodedEvent]
) -> list[tuple[str, dict[str, str], bytes]]:
    creates = state.version == 0
    offset = str(len(batch) + creates)
    records: list[tuple[str, dict[str, str], bytes]] = [
        (names.id_subject(e.event_id), {_EXPECT: "0", OFFSET: offset}, b"") for e in batch
    ]
    if creates:
        records.append(
            (names.marker_subject(stream_id), {STREAM_TYPE: quote(state.stream_type, safe="")}, b"")
        )
    subject = names.event_subject(state.stream_type, stream_id)
    for number, event in enumerate(batch):
        headers = event_headers(event, state.version + number + 1)
        if number == 0:
            headers[_EXPECT] = str(state.last_sequence)
            headers[_EXPECT_ON] = names.stream_filter(stream_id)
        records.append((subject, headers, event_body(event)))
    return records


def _ack(data: bytes) -> BatchAck:
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StoreUnavailableError(f"JetStream answered an append with {data[:200]!r}") from exc
    error = answer.get("error")
    if error is None:
        return BatchAck(int(answer["seq"]))
    return BatchAck(0, int(error.get("err_code", 0)), str(error.get("description", "")))
