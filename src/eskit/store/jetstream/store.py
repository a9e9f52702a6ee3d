"""The event store on NATS JetStream: the whole event store port, with file storage.

One JetStream stream holds a store's events (``<name>.<stream type>.<stream id>.<1|n>``)
and the records that make event ids unique (see :mod:`~eskit.store.jetstream.publishing`);
its sequence is the global log. Snapshots and command outcomes live in two key-value
buckets. A one-event append is two records (the id's claim, then the event with the
optimistic version check); a longer one is one atomic batch. Writers in any number of
processes meet at the server, and no reader ever sees half an append.

What it does not offer: transactions (``capabilities.transactions`` is false), so read
models, checkpoints and queues need a SQL store beside it; an append holds at most
``MAX_EVENTS`` events (the server's batch limit); counting a span of the log reads it.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import random
import uuid
from collections import OrderedDict
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from datetime import datetime

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js.api import KeyValueConfig, StorageType, StreamConfig
from nats.js.errors import APIError, BucketNotFoundError, NotFoundError

from eskit.domain.events import Event
from eskit.errors import (
    ConcurrencyError,
    ConfigurationError,
    CorruptRecordError,
    DuplicateEventError,
    StoreUnavailableError,
)
from eskit.store.browsing import BrowsingThrough
from eskit.store.commits import AppendSignal, CommitListener
from eskit.store.encoding import EncodedEvent, encode_events
from eskit.store.expected import check_expected_version, validate_expected_version
from eskit.store.idempotency import original_outcome
from eskit.store.jetstream.browsing import JetStreamBrowser
from eskit.store.jetstream.direct import DirectReader
from eskit.store.jetstream.keyvalue import OutcomeBucket, SnapshotBucket
from eskit.store.jetstream.listener import JetStreamCommitListener
from eskit.store.jetstream.publishing import (
    CLAIMED_BY,
    CONFLICT_CODES,
    MAX_EVENTS,
    OFFSET,
    WRONG_LAST_MSG_ID,
    BatchAck,
    StreamState,
    publish_append,
    publish_claimed_event,
    publish_event,
)
from eskit.store.jetstream.records import (
    MSG_ID,
    event_payload,
    message_time,
    payload_of,
    sequence_of,
    stored_event,
    version_of,
)
from eskit.store.jetstream.replies import Replies
from eskit.store.jetstream.subjects import StoreNames, untoken
from eskit.store.keyed_locks import KeyedLocks
from eskit.store.port import StoreCapabilities
from eskit.store.reading import DerivedReads
from eskit.store.records import (
    AppendResult,
    CommandOutcome,
    EventPayload,
    ExpectedState,
    ExpectedVersion,
    LogPage,
    LogSpan,
    Metadata,
    NewEvent,
    ReadHorizon,
    Snapshot,
    StoredEvent,
    StoreSaturation,
    StreamInfo,
)

__all__ = ["JetStreamEventStore"]

_KNOWN_STREAMS = 10_000
"""Streams whose last state a store remembers, so that a writer's next append to one
needs no read first (a stale one is caught by the server's check)."""
_ATTEMPTS = 100
"""Appends with ANY or STREAM_EXISTS retry a conflict this many times."""


class JetStreamEventStore(DerivedReads, BrowsingThrough):
    """Events in a JetStream stream; snapshots and outcomes in key-value buckets.

    Open it with :meth:`open` (or ``open_store("nats://host:4222/name")``).
    """

    capabilities = StoreCapabilities(other_processes=True, read_ahead=True)

    def __init__(
        self,
        client: Client,
        names: StoreNames,
        *,
        timeout_s: float = 5.0,
        duplicate_window_s: float = 120.0,
        replicas: int = 1,
    ) -> None:
        self._client = client
        self.names = names
        self.timeout_s = timeout_s
        self.duplicate_window_s = duplicate_window_s
        self.replicas = replicas
        self._js = client.jetstream(timeout=timeout_s)
        self._direct = DirectReader(client, names.stream, timeout_s=timeout_s)
        self._browser = JetStreamBrowser(
            client,
            names,
            self._direct,
            head=self.last_position,
            stream_info=self._stream_info,
            timeout_s=timeout_s,
        )
        self._known: OrderedDict[str, StreamState] = OrderedDict()
        self._replies = Replies(client)
        self._turns = KeyedLocks()  # appends to one stream from this process take turns
        self._snapshots: SnapshotBucket | None = None
        self._outcomes: OutcomeBucket | None = None
        self._closed = False
        self.appended = AppendSignal()
        """Fired after every append through this object that commits."""

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        servers: str | Sequence[str],
        *,
        name: str = "eskit",
        migrate: bool = True,
        connect_timeout_s: float = 5.0,
        timeout_s: float = 5.0,
        duplicate_window_s: float = 120.0,
        replicas: int = 1,
    ) -> AsyncIterator[JetStreamEventStore]:
        """Connect to ``servers``, create the stream and buckets (``migrate``), and yield
        the store; close it on exit. Raises StoreUnavailableError if no server answers
        within ``connect_timeout_s``, ConfigurationError for an unusable option (one the
        server refuses included)."""
        _check_options(
            connect_timeout_s=connect_timeout_s,
            timeout_s=timeout_s,
            duplicate_window_s=duplicate_window_s,
            replicas=replicas,
        )
        client = await _connect(servers, connect_timeout_s)
        store = cls(
            client,
            StoreNames(name),
            timeout_s=timeout_s,
            duplicate_window_s=duplicate_window_s,
            replicas=replicas,
        )
        try:
            if migrate:
                await store.migrate()
            await store._open_buckets()
            yield store
        finally:
            await store.close()

    def commit_listener(self) -> CommitListener | None:
        """Hears every commit to the stream, from any process."""
        return JetStreamCommitListener(self._js, self.names, self.appended)

    async def __aenter__(self) -> JetStreamEventStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- appending -----------------------------------------------------------------------

    async def append(
        self,
        stream_id: str,
        events: Sequence[Event | NewEvent],
        *,
        expected_version: ExpectedVersion,
        stream_type: str = "",
        metadata: Metadata | None = None,
    ) -> AppendResult:
        """See EventStore.append. At most ``MAX_EVENTS`` events per append."""
        validate_expected_version(expected_version)
        batch = encode_events(events, metadata)
        if len(batch) > MAX_EVENTS:
            raise ValueError(
                f"an append to the JetStream store holds at most {MAX_EVENTS} events "
                f"(one atomic batch), got {len(batch)}: split it"
            )
        async with self._turns.hold(stream_id):
            return await self._append(stream_id, batch, expected_version, stream_type)

    async def _append(
        self,
        stream_id: str,
        batch: Sequence[EncodedEvent],
        expected_version: ExpectedVersion,
        stream_type: str,
    ) -> AppendResult:
        if not batch:
            now = await self._read_state(stream_id)
            check_expected_version(stream_id, expected_version, now.version)
            return AppendResult(stream_id, now.version, now.last_sequence)
        if len(batch) == 1:
            return await self._append_one(stream_id, batch[0], expected_version, stream_type)
        for attempt in range(_ATTEMPTS):
            if attempt:  # another process won the last round: let the winners pass
                await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))
            state = await self._state_to_write_after(stream_id, expected_version, stream_type)
            if state is None:
                earlier = await self._earlier_outcome(stream_id, batch)
                if earlier is not None:
                    return earlier
                current = await self._read_state(stream_id)
                check_expected_version(stream_id, expected_version, current.version)
                continue
            ack = await publish_append(
                self._client, self.names, stream_id, state, batch, timeout_s=self.timeout_s
            )
            if ack.error_code is None:
                return self._committed(stream_id, state, len(batch), ack.sequence)
            self._refuse_unless_conflict(stream_id, ack)
            self._known.pop(stream_id, None)
            earlier = await self._earlier_outcome(stream_id, batch)
            if earlier is not None:
                return earlier
            if not isinstance(expected_version, ExpectedState) or (
                expected_version is ExpectedState.NO_STREAM
            ):
                current = await self._read_state(stream_id)
                check_expected_version(stream_id, expected_version, current.version)
        raise ConcurrencyError(stream_id, expected_version)

    async def _append_one(
        self,
        stream_id: str,
        event: EncodedEvent,
        expected_version: ExpectedVersion,
        stream_type: str,
    ) -> AppendResult:
        """One event: its id's claim and the event, sent together (two records, no
        atomic batch); see :func:`~eskit.store.jetstream.publishing.publish_claimed_event`."""
        claimed = False
        for attempt in range(_ATTEMPTS):
            if attempt:  # another process won the last round: let the winners pass
                await asyncio.sleep(random.uniform(0, min(0.05, 0.0005 * 2**attempt)))
            state = await self._state_to_write_after(stream_id, expected_version, stream_type)
            if state is None:  # a repeat of an append that went through, or a conflict
                earlier = await self._earlier_outcome(stream_id, [event], reusable=True)
                if earlier is not None:
                    return earlier
                current = await self._read_state(stream_id)
                check_expected_version(stream_id, expected_version, current.version)
                continue
            if claimed:
                ack = await self._publish_event(stream_id, state, event)
            else:
                claimed = True
                earlier, ack = await self._claim_and_publish(stream_id, state, event)
                if earlier is not None:
                    return earlier
            if ack.error_code is None and ack.duplicate:
                return await self._outcome_at(stream_id, event, ack.sequence)
            if ack.error_code is None:
                return self._committed(stream_id, state, 1, ack.sequence)
            self._refuse_unless_conflict(stream_id, ack)
            self._known.pop(stream_id, None)
            if not isinstance(expected_version, ExpectedState) or (
                expected_version is ExpectedState.NO_STREAM
            ):
                current = await self._read_state(stream_id)
                check_expected_version(stream_id, expected_version, current.version)
        raise ConcurrencyError(stream_id, expected_version)

    async def _claim_and_publish(
        self, stream_id: str, state: StreamState, event: EncodedEvent
    ) -> tuple[AppendResult | None, BatchAck]:
        """Send the claim and the event together; the first outcome of an earlier append
        of this event if there is one, else the event's answer (sent again alone when
        another record came between it and its claim)."""
        claim, ack = await publish_claimed_event(
            self._replies, self.names, stream_id, state, event, timeout_s=self.timeout_s
        )
        if claim.error_code is not None or claim.duplicate:  # claimed before this append
            self._refuse_unless_conflict(stream_id, claim)
            if ack.error_code is None:  # right after that claim, which had no event yet
                return None, ack
            earlier = await self._claimed_before(stream_id, event)
            if earlier is not None:
                return earlier, ack
        if ack.error_code == WRONG_LAST_MSG_ID:
            ack = await self._publish_event(stream_id, state, event)
        return None, ack

    async def _publish_event(
        self, stream_id: str, state: StreamState, event: EncodedEvent
    ) -> BatchAck:
        return await publish_event(
            self._client, self.names, stream_id, state, event, timeout_s=self.timeout_s
        )

    async def _claimed_before(self, stream_id: str, event: EncodedEvent) -> AppendResult | None:
        """The first outcome if an earlier append stored the event (DuplicateEventError if
        it is stored, or claimed, as something else); None if its claim is this stream's
        and no event came of it (this append takes it over)."""
        found, unstored = await self._find_by_id([event.event_id])
        earlier = original_outcome(stream_id, [event], found)
        if earlier is not None:
            return earlier
        claimed_for = unstored.get(event.event_id, stream_id)
        if claimed_for != stream_id:
            raise DuplicateEventError(
                str(event.event_id),
                f"it was claimed for stream {claimed_for!r} by an append that stored nothing",
            )
        return None

    async def _outcome_at(self, stream_id: str, event: EncodedEvent, sequence: int) -> AppendResult:
        """The outcome of the earlier append the server's duplicate window recognised."""
        record = await self._direct.at(sequence)
        stored = [stored_event(record, self.names)] if record is not None else []
        earlier = original_outcome(stream_id, [event], stored)
        if earlier is None:
            raise StoreUnavailableError(
                f"JetStream called event {event.event_id} a duplicate of sequence {sequence}, "
                "which it does not hold"
            )
        return earlier

    @staticmethod
    def _refuse_unless_conflict(stream_id: str, ack: BatchAck) -> None:
        if ack.error_code not in CONFLICT_CODES:
            raise StoreUnavailableError(
                f"JetStream refused an append to {stream_id!r}: {ack.error_code} {ack.description}"
            )

    async def _state_to_write_after(
        self, stream_id: str, expected: ExpectedVersion, stream_type: str
    ) -> StreamState | None:
        """The state to append after, or None if ``expected`` cannot hold.

        A new stream needs no read (the server checks that it is new); a stream this store
        wrote last is remembered; any other is read.
        """
        if expected is ExpectedState.NO_STREAM or expected == 0:
            return StreamState(0, 0, stream_type)
        state = self._known.get(stream_id)
        if state is None or (isinstance(expected, int) and expected != state.version):
            state = await self._read_state(stream_id)  # perhaps only our memory is stale
        if state.version == 0 and not isinstance(expected, ExpectedState):
            return None
        if expected is ExpectedState.STREAM_EXISTS and state.version == 0:
            return None
        if isinstance(expected, int) and expected != state.version:
            return None
        if state.version == 0:
            return StreamState(0, 0, stream_type)
        return state

    def _committed(
        self, stream_id: str, state: StreamState, count: int, sequence: int
    ) -> AppendResult:
        version = state.version + count
        self._remember(stream_id, StreamState(version, sequence, state.stream_type))
        self.appended.fire(sequence)
        return AppendResult(stream_id, version, sequence)

    def _remember(self, stream_id: str, state: StreamState) -> None:
        self._known[stream_id] = state
        self._known.move_to_end(stream_id)
        if len(self._known) > _KNOWN_STREAMS:
            self._known.popitem(last=False)

    async def _read_state(self, stream_id: str) -> StreamState:
        last = await self._direct.last(self.names.stream_filter(stream_id))
        if last is None:
            return StreamState(0, 0, "")
        event = stored_event(last, self.names)
        state = StreamState(event.version, event.position, event.stream_type)
        self._remember(stream_id, state)
        return state

    async def _earlier_outcome(
        self, stream_id: str, batch: Sequence[EncodedEvent], *, reusable: bool = False
    ) -> AppendResult | None:
        """The first outcome of ``batch`` if its ids are stored (DuplicateEventError if
        they are stored as something else, or claimed by an append that stored nothing, save
        claims for this stream when they are ``reusable``); None if none is."""
        found, unstored = await self._find_by_id([e.event_id for e in batch])
        earlier = original_outcome(stream_id, batch, found)
        if reusable:
            unstored = {i: s for i, s in unstored.items() if s != stream_id}
        if earlier is None and unstored:
            event_id, claimed_for = next(iter(unstored.items()))
            raise DuplicateEventError(
                str(event_id),
                f"it was claimed for stream {claimed_for!r} by an append that stored nothing",
            )
        return earlier

    async def _find_by_id(
        self, event_ids: Sequence[uuid.UUID]
    ) -> tuple[list[StoredEvent], dict[uuid.UUID, str]]:
        """The stored events with these ids, and the ids claimed for a stream that holds no
        event of theirs (by a one-event append that failed or was cut off)."""
        records = await self._direct.lasts([self.names.id_subject(i) for i in event_ids])
        resolved = await asyncio.gather(*(self._event_of(r) for r in records))
        found = [event for _, _, event in resolved if event is not None]
        unstored = {i: stream for i, stream, event in resolved if event is None}
        return found, unstored

    async def _event_of(self, id_record: Msg) -> tuple[uuid.UUID, str, StoredEvent | None]:
        """The event an id record stands for, if stored: ``(id, stream, event)``."""
        headers = id_record.headers or {}
        subject = headers.get("Nats-Subject", id_record.subject)
        event_id = uuid.UUID(subject.rsplit(".", 1)[1])
        if OFFSET in headers:  # written in a batch: its event sits a known way after it
            record = await self._direct.at(sequence_of(id_record) + int(headers[OFFSET]))
            event = stored_event(record, self.names) if record is not None else None
            return event_id, event.stream_id if event else "", event
        if CLAIMED_BY not in headers:
            raise CorruptRecordError(
                f"JetStream stream {self.names.stream!r} sequence {sequence_of(id_record)}",
                f"an event id record without {OFFSET} or {CLAIMED_BY}",
            )
        try:
            stream_id = untoken(headers[CLAIMED_BY])
        except ValueError as exc:
            raise CorruptRecordError(
                f"JetStream stream {self.names.stream!r} sequence {sequence_of(id_record)}",
                f"{CLAIMED_BY} {headers[CLAIMED_BY]!r} is not a stream id the store writes",
            ) from exc
        wanted, start = str(event_id), sequence_of(id_record) + 1
        while True:  # the event follows its claim in its stream, if it was stored at all
            records, more = await self._direct.after(
                start=start, subject=self.names.stream_filter(stream_id), limit=100
            )
            for record in records:
                if (record.headers or {}).get(MSG_ID) == wanted:
                    return event_id, stream_id, stored_event(record, self.names)
            if not more or not records:
                return event_id, stream_id, None
            start = sequence_of(records[-1]) + 1

    # -- streams -------------------------------------------------------------------------

    async def read_stream(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_stream."""
        subject = self.names.stream_filter(stream_id)
        events = [stored_event(m, self.names) for m in await self._all_on(subject)]
        return [
            e
            for e in events
            if e.version >= from_version
            and (to_version is None or e.version <= to_version)
            and (until is None or e.recorded_at <= until)
        ]

    async def read_payloads(
        self,
        stream_id: str,
        *,
        from_version: int = 1,
        to_version: int | None = None,
        until: datetime | None = None,
    ) -> list[EventPayload]:
        """See EventStore.read_payloads."""
        if until is not None:  # the record time is in StoredEvent only
            events = await self.read_stream(
                stream_id, from_version=from_version, to_version=to_version, until=until
            )
            return [payload_of(e) for e in events]
        records = await self._all_on(self.names.stream_filter(stream_id))
        payloads = [event_payload(m, self.names) for m in records]
        return [
            p
            for p in payloads
            if p.version >= from_version and (to_version is None or p.version <= to_version)
        ]

    async def _all_on(self, subject: str, start: int = 1) -> list[Msg]:
        found: list[Msg] = []
        more = True
        while more:
            records, more = await self._direct.after(start=start, subject=subject, limit=1000)
            found.extend(records)
            if not records:
                break
            start = sequence_of(records[-1]) + 1
        return found

    async def stream_version(self, stream_id: str) -> int:
        """See EventStore.stream_version."""
        return (await self._read_state(stream_id)).version

    async def list_streams(
        self, *, limit: int = 100, after: int = 0, stream_type: str | None = None
    ) -> list[StreamInfo]:
        """See EventStore.list_streams: the streams' first events, in log order."""
        firsts, _ = await self._direct.after(
            start=after + 1, subject=self.names.firsts(stream_type), limit=limit
        )
        return list(await asyncio.gather(*(self._stream_info(f) for f in firsts[:limit])))

    async def _stream_info(self, first_record: Msg) -> StreamInfo:
        first = stored_event(first_record, self.names)
        last_record = await self._direct.last(self.names.stream_filter(first.stream_id))
        if last_record is None:  # pragma: no cover - events are never removed
            raise StoreUnavailableError(f"stream {first.stream_id!r} lost its events")
        return StreamInfo(
            first.stream_id,
            first.stream_type,
            version_of(last_record, self.names),
            first.recorded_at,
            message_time(last_record),
            first.position,
        )

    async def find_events(self, event_ids: Sequence[object]) -> list[StoredEvent]:
        """See EventStore.find_events."""
        ids = []
        for given in event_ids:
            try:
                ids.append(given if isinstance(given, uuid.UUID) else uuid.UUID(str(given)))
            except ValueError:
                continue
        return (await self._find_by_id(ids))[0] if ids else []

    # -- the global log ------------------------------------------------------------------

    async def read_batch(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> list[StoredEvent]:
        """See EventStore.read_batch: the stream sequence is the position."""
        return await self._read_log(
            after=after, limit=limit, stream_types=stream_types, event_types=event_types
        )

    async def _read_log(
        self,
        *,
        after: int,
        limit: int,
        stream_types: Collection[str] | None,
        event_types: Collection[str] | None,
        up_to: int | None = None,
    ) -> list[StoredEvent]:
        if limit <= 0 or (stream_types is not None and not stream_types):
            return []
        types = set(stream_types) if stream_types is not None else None
        subject = self.names.events
        if types is not None and len(types) == 1:
            subject = self.names.type_filter(next(iter(types)))
        out: list[StoredEvent] = []
        start = after + 1
        while len(out) < limit:
            records, more = await self._direct.after(
                start=start, subject=subject, limit=limit - len(out), up_to=up_to
            )
            for record in records:
                if up_to is not None and sequence_of(record) > up_to:
                    # the server bounds only multi-last gets by up_to_seq, not this one
                    return out
                event = stored_event(record, self.names)
                if (types is None or event.stream_type in types) and (
                    event_types is None or event.event_type in event_types
                ):
                    out.append(event)
            if not more or not records:
                break
            start = sequence_of(records[-1]) + 1
        return out

    async def read_page(
        self,
        *,
        after: int = 0,
        limit: int = 1000,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogPage:
        """See EventStore.read_page: the head is read first and the events up to it, so
        the page is one snapshot of the log (a head read after the events could pass an
        event committed meanwhile, and a reader moving to it would skip that event)."""
        head = await self.last_position()
        if head <= after:
            return LogPage([], head)
        events = await self._read_log(
            after=after,
            limit=limit,
            stream_types=stream_types,
            event_types=event_types,
            up_to=head,
        )
        return LogPage(events, head)

    async def count_events(
        self,
        *,
        after: int,
        up_to: int,
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
    ) -> LogSpan:
        """See EventStore.count_events (it reads the span: JetStream counts no headers)."""
        count, oldest, position = 0, None, after
        while position < up_to:
            events = await self._read_log(
                after=position,
                limit=1000,
                stream_types=stream_types,
                event_types=event_types,
                up_to=up_to,
            )
            if not events:
                break
            oldest = oldest or events[0].recorded_at
            count += len(events)
            position = events[-1].position
        return LogSpan(count, oldest)

    async def last_position(self) -> int:
        """See EventStore.last_position: the last event's sequence (the stream's last record
        may be an event id's claim)."""
        end, width = await self._head(), 8
        while end >= 1:
            start = max(1, end - width + 1)
            records = await self._direct.window(self.names.events, start, end)
            if records:
                return sequence_of(records[-1])
            end, width = start - 1, width * 8
        return 0

    async def _head(self) -> int:
        try:
            info = await self._js.stream_info(self.names.stream)
        except NotFoundError as exc:
            raise StoreUnavailableError(
                f"no JetStream stream {self.names.stream!r}: run eskit migrate"
            ) from exc
        except (NatsError, TimeoutError) as exc:
            raise StoreUnavailableError(f"cannot read the JetStream stream: {exc!r}") from exc
        return int(info.state.last_seq)

    async def read_horizon(self) -> ReadHorizon:
        """Nothing holds readers back: a batch is stored whole when it commits."""
        return ReadHorizon(position=await self.last_position())

    def saturation(self) -> StoreSaturation:
        """One connection, no pool, no writer queue."""
        return StoreSaturation()

    # -- snapshots and outcomes ----------------------------------------------------------

    async def save_snapshot(self, snapshot: Snapshot) -> None:
        """See SnapshotStore.save_snapshot."""
        await self._buckets()[0].save(snapshot)

    async def load_snapshot(self, stream_id: str) -> Snapshot | None:
        """See SnapshotStore.load_snapshot."""
        return await self._buckets()[0].load(stream_id)

    async def read_since_snapshot(
        self, stream_id: str, *, schema_version: int
    ) -> tuple[Snapshot | None, list[EventPayload]]:
        """See EventStoreBackend.read_since_snapshot."""
        snapshot = await self.load_snapshot(stream_id)
        if snapshot is not None and snapshot.schema_version != schema_version:
            snapshot = None
        after = snapshot.version if snapshot else 0
        return snapshot, await self.read_payloads(stream_id, from_version=after + 1)

    async def record_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """See CommandOutcomeStore.record_outcome."""
        return await self._buckets()[1].record(outcome)

    async def find_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """See CommandOutcomeStore.find_outcome."""
        return await self._buckets()[1].find(command_id)

    def _buckets(self) -> tuple[SnapshotBucket, OutcomeBucket]:
        if self._snapshots is None or self._outcomes is None:
            raise StoreUnavailableError("the JetStream store is not open")
        return self._snapshots, self._outcomes

    async def _open_buckets(self) -> None:
        try:
            self._snapshots = SnapshotBucket(await self._js.key_value(self.names.snapshots))
            self._outcomes = OutcomeBucket(await self._js.key_value(self.names.outcomes))
        except BucketNotFoundError as exc:
            raise StoreUnavailableError(
                f"the JetStream store {self.names.name!r} is not set up: run eskit migrate"
            ) from exc
        except (NatsError, TimeoutError) as exc:
            raise StoreUnavailableError(
                f"cannot open the buckets of the JetStream store {self.names.name!r}: {exc!r}"
            ) from exc

    # -- set-up --------------------------------------------------------------------------

    async def migrate(self) -> list[str]:
        """Create the stream and the buckets that do not exist yet; their names.

        Raises ConfigurationError if the server refuses one (such as more replicas than
        it has peers), StoreUnavailableError if it does not answer.
        """
        try:
            return await self._create_missing()
        except APIError as exc:
            raise ConfigurationError(
                f"JetStream refused to set up the store {self.names.name!r}: "
                f"{exc.description} (error {exc.err_code})"
            ) from exc
        except (NatsError, TimeoutError) as exc:
            raise StoreUnavailableError(
                f"JetStream did not set up the store {self.names.name!r}: {exc!r}"
            ) from exc

    async def _create_missing(self) -> list[str]:
        created = []
        if not await self._stream_exists(self.names.stream):
            await self._js.add_stream(self._stream_config())
            created.append(f"stream {self.names.stream}")
        for bucket in (self.names.snapshots, self.names.outcomes):
            if not await self._stream_exists(f"KV_{bucket}"):
                await self._js.create_key_value(
                    KeyValueConfig(
                        bucket=bucket,
                        history=1,
                        storage=StorageType.FILE,
                        replicas=self.replicas,
                    )
                )
                created.append(f"bucket {bucket}")
        if created:
            await self._open_buckets()
        return created

    def _stream_config(self) -> StreamConfig:
        return StreamConfig(
            name=self.names.stream,
            subjects=self.names.subjects,
            storage=StorageType.FILE,
            num_replicas=self.replicas,
            duplicate_window=self.duplicate_window_s,
            allow_atomic=True,
            allow_direct=True,
        )

    async def _stream_exists(self, stream: str) -> bool:
        try:
            await self._js.stream_info(stream)
        except NotFoundError:
            return False
        return True

    async def close(self) -> None:
        """Close the connection. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(NatsError):  # closing a broken connection
            await self._client.close()


def _check_options(
    *, connect_timeout_s: float, timeout_s: float, duplicate_window_s: float, replicas: int
) -> None:
    seconds = {
        "connect_timeout_s": connect_timeout_s,
        "timeout_s": timeout_s,
        "duplicate_window_s": duplicate_window_s,
    }
    for key, value in seconds.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not (math.isfinite(value) and value > 0)
        ):
            raise ConfigurationError(
                f"{key} of a JetStream store must be a positive number of seconds, got {value!r}"
            )
    if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 1:
        raise ConfigurationError(
            f"replicas of a JetStream store must be a whole number >= 1, got {replicas!r}"
        )


async def _connect(servers: str | Sequence[str], timeout_s: float) -> Client:
    addresses = [servers] if isinstance(servers, str) else list(servers)

    async def failed(exc: Exception) -> None:
        del exc  # reconnects are nats-py's job; readers see StoreUnavailableError meanwhile

    try:
        return await asyncio.wait_for(
            nats.connect(
                servers=addresses,
                connect_timeout=timeout_s,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.2,
                error_cb=failed,
                allow_reconnect=True,
            ),
            timeout_s,
        )
    except (TimeoutError, NatsError, OSError) as exc:
        raise StoreUnavailableError(
            f"cannot reach NATS at {', '.join(addresses)} within {timeout_s} s: {exc!r}"
        ) from exc
