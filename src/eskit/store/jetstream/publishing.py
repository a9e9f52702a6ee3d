"""Appending to a JetStream stream: one event as two records, more as one atomic batch.

Each event id is made unique store-wide by a record on ``<name>-ids.<event id>`` that
expects its subject to be empty: an id stored before, in any stream and at any age, is
refused there (the server's ``Nats-Msg-Id`` window alone would forget it after a while).
Each event expects the last record of ``<name>.*.<stream>.*`` to be the one its writer read
(0: none), the optimistic version check, whatever type another writer gave the stream.

* **One event** (the common case): the id's claim (the record names the stream) and the
  event go out together; the event expects the stream's last record to be its claim, so it
  is never stored without it, and is sent again alone when another writer's record came
  between them. A claim whose event never came (a conflict, a crash) is kept: a retry of
  the same append takes it over, and the server's duplicate window catches two attempts
  racing each other.
* **Several events**: one atomic batch, all stored or none, readers see it whole: their id
  records (each naming how far after it its event sits), then the events. JetStream stages an
  atomic batch on disk before it commits it, which costs milliseconds per batch on a
  stream of one replica: see ``docs/stores.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from nats.aio.client import Client
from nats.errors import Error as NatsError
from nats.errors import NoRespondersError
from nats.errors import TimeoutError as NatsTimeoutError

from eskit.errors import StoreUnavailableError
from eskit.store.encoding import EncodedEvent
from eskit.store.jetstream.records import MSG_ID, event_body, event_headers
from eskit.store.jetstream.replies import Replies
from eskit.store.jetstream.subjects import StoreNames, token

__all__ = [
    "CLAIMED_BY",
    "CONFLICT_CODES",
    "MAX_EVENTS",
    "OFFSET",
    "WRONG_LAST_MSG_ID",
    "BatchAck",
    "StreamState",
    "publish_append",
    "publish_claimed_event",
    "publish_event",
]

MAX_BATCH = 1000
"""The server's limit on messages in one atomic batch."""
MAX_EVENTS = MAX_BATCH // 2
"""Events in one append: each brings its id record."""
OFFSET = "Eskit-Offset"
"""On an id record written in a batch: how many sequences after it its event was stored."""
CLAIMED_BY = "Eskit-Stream"
"""On an id claimed by a one-event append: the stream (as a subject token) it is for."""
CONFLICT_CODES = frozenset({10071, 10201})
"""Wrong last sequence (a version or id expectation failed); a duplicate message id."""
_EXPECT = "Nats-Expected-Last-Subject-Sequence"
_EXPECT_ON = "Nats-Expected-Last-Subject-Sequence-Subject"
_EXPECT_LAST_ID = "Nats-Expected-Last-Msg-Id"
WRONG_LAST_MSG_ID = 10070
"""The stream's last record is not the one the message expected (its claim)."""


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
    duplicate: bool = False
    """The server had the message's id in its duplicate window: ``sequence`` is the first."""


async def publish_claimed_event(
    replies: Replies,
    names: StoreNames,
    stream_id: str,
    state: StreamState,
    event: EncodedEvent,
    *,
    timeout_s: float,
) -> tuple[BatchAck, BatchAck]:
    """Claim the event's id and publish the event in one round trip.

    The event expects the stream's last record to be its claim (by the claim's message id),
    so it is stored only right after a claim of its id: never when the claim is refused.
    Another writer's record between the two refuses the event (``WRONG_LAST_MSG_ID``): it is
    then sent again alone, after its claim.
    """
    claim_id = f"c:{event.event_id}"
    claim_headers = {_EXPECT: "0", CLAIMED_BY: token(stream_id), MSG_ID: claim_id}
    subject, headers, body = _event_record(names, stream_id, state, event)
    headers[_EXPECT_LAST_ID] = claim_id
    try:
        claim, stored = await replies.send(
            [(names.id_subject(event.event_id), b"", claim_headers), (subject, body, headers)],
            timeout_s=timeout_s,
        )
    except (NatsTimeoutError, TimeoutError) as exc:
        raise _unconfirmed(stream_id, timeout_s) from exc
    except NatsError as exc:
        raise StoreUnavailableError(f"cannot append to JetStream: {exc!r}") from exc
    return _ack(claim.data), _ack(stored.data)


def _event_record(
    names: StoreNames, stream_id: str, state: StreamState, event: EncodedEvent
) -> tuple[str, dict[str, str], bytes]:
    headers = event_headers(event, state.version + 1)
    headers[_EXPECT] = str(state.last_sequence)
    headers[_EXPECT_ON] = names.stream_filter(stream_id)
    subject = names.event_subject(state.stream_type, stream_id, first=state.version == 0)
    return subject, headers, event_body(event)


async def publish_event(
    client: Client,
    names: StoreNames,
    stream_id: str,
    state: StreamState,
    event: EncodedEvent,
    *,
    timeout_s: float,
) -> BatchAck:
    """Publish ``event`` as the next of ``stream_id`` after ``state``."""
    subject, headers, body = _event_record(names, stream_id, state, event)
    return await _request(client, subject, body, headers, timeout_s=timeout_s, stream_id=stream_id)


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
    for number, (subject, headers, body) in enumerate(messages, 1):
        headers["Nats-Batch-Id"] = batch_id
        headers["Nats-Batch-Sequence"] = str(number)
        if number < last:
            try:
                await client.publish(subject, body, headers=headers)
            except NatsError as exc:
                raise StoreUnavailableError(f"cannot append to JetStream: {exc!r}") from exc
            continue
        headers["Nats-Batch-Commit"] = "1"
    return await _request(client, subject, body, headers, timeout_s=timeout_s, stream_id=stream_id)


async def _request(
    client: Client,
    subject: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout_s: float,
    stream_id: str,
) -> BatchAck:
    try:
        reply = await client.request(subject, body, timeout=timeout_s, headers=headers)
    except (NatsTimeoutError, TimeoutError) as exc:
        raise _unconfirmed(stream_id, timeout_s) from exc
    except NoRespondersError as exc:
        raise StoreUnavailableError(
            f"no JetStream stream takes {subject!r} (is the store migrated, and JetStream on?)"
        ) from exc
    except NatsError as exc:
        raise StoreUnavailableError(f"cannot append to JetStream: {exc!r}") from exc
    return _ack(reply.data)


def _records(
    names: StoreNames, stream_id: str, state: StreamState, batch: Sequence[EncodedEvent]
) -> list[tuple[str, dict[str, str], bytes]]:
    offset = str(len(batch))
    records: list[tuple[str, dict[str, str], bytes]] = [
        (names.id_subject(e.event_id), {_EXPECT: "0", OFFSET: offset}, b"") for e in batch
    ]
    for number, event in enumerate(batch):
        version = state.version + number + 1
        subject = names.event_subject(state.stream_type, stream_id, first=version == 1)
        headers = event_headers(event, version)
        if number == 0:
            headers[_EXPECT] = str(state.last_sequence)
            headers[_EXPECT_ON] = names.stream_filter(stream_id)
        records.append((subject, headers, event_body(event)))
    return records


def _unconfirmed(stream_id: str, timeout_s: float) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"JetStream did not confirm an append to {stream_id!r} within {timeout_s} s; "
        "it may or may not be stored: retrying it with the same event ids is safe"
    )


def _ack(data: bytes) -> BatchAck:
    try:
        answer = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise StoreUnavailableError(f"JetStream answered an append with {data[:200]!r}") from exc
    error = answer.get("error")
    if error is None:
        return BatchAck(int(answer["seq"]), duplicate=bool(answer.get("duplicate")))
    return BatchAck(0, int(error.get("err_code", 0)), str(error.get("description", "")))
