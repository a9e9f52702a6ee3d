"""Consumers: handlers fed from the bus, each event taking effect once.

A consumer handles a batch in one transaction of the store: it records the batch's message
ids in the inbox (``UnitOfWork.record_processed``) and runs the handler for the ids not
seen before, then commits, then acknowledges the batch to the broker. A crash before the
commit rolls everything back and the broker delivers the batch again; a crash after it
delivers ids the inbox already holds, which are skipped. So the handler's writes to the
store take effect exactly once, though the bus delivers at least once.

A handler that fails is retried in place, with backoff, so the messages behind it keep their
order; after ``max_attempts`` its message goes to the group's dead-letter topic with the
error and the rest flow on. A message that cannot be decoded at all (not JSON, an unknown
event type, a newer schema version) is dead-lettered at once: retrying cannot mend it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from opentelemetry.trace import SpanKind

from eskit.domain.events import Event
from eskit.domain.registry import EventRegistry
from eskit.errors import EventDecodingError
from eskit.logcontext import log_context
from eskit.messaging.envelope import IncomingEvent, incoming_event
from eskit.messaging.errors import MessageDecodingError
from eskit.messaging.message import Delivery, OutgoingMessage
from eskit.messaging.port import Bus, BusConsumer
from eskit.observability.metrics import (
    record_consumer_batch,
    record_consumer_dead_letter,
    record_consumer_retry,
)
from eskit.observability.tracing import span_from
from eskit.store import TransactionalStore
from eskit.store.unit_of_work import UnitOfWork

__all__ = [
    "DEAD_LETTER_OF",
    "Consumer",
    "ConsumerRunner",
    "MessageContext",
    "dead_letter_type",
]

_log = logging.getLogger(__name__)


DEAD_LETTER_OF = "eskit-dead-letter-of"
"""The header of a dead letter naming the id of the message it stands for."""


def dead_letter_type(group: str) -> str:
    """The stream type whose topic holds ``group``'s dead letters."""
    return f"{group}-dead-letters"


@dataclass(frozen=True, slots=True)
class MessageContext:
    """What a handler gets beside the event: the delivery and the batch's transaction."""

    incoming: IncomingEvent
    delivery: Delivery
    tx: UnitOfWork
    batch: dict[str, Any] = field(default_factory=dict)
    """Shared by the handlers of one batch (and ``before_batch`` / ``after_batch``): writers
    that buffer, documents loaded once."""


Handler = Callable[[Event, MessageContext], Awaitable[None]]
BatchHook = Callable[[UnitOfWork, Sequence[IncomingEvent], dict[str, Any]], Awaitable[None]]


@dataclass(slots=True)
class Consumer:
    """A named consumer group: which events it reads and the handler of each type.

    Event types not in ``handlers`` are acknowledged and skipped; ``registry`` decodes the
    ones it handles (upcasting older schema versions as the store does).
    """

    name: str
    stream_types: Sequence[str]
    handlers: dict[str, Handler]
    registry: EventRegistry
    max_attempts: int = 5
    retry_backoff_s: float = 0.1
    max_backoff_s: float = 5.0
    batch_size: int = 100
    prepare: Callable[[TransactionalStore], Awaitable[None]] | None = None
    """Run once before the first batch: create the read models' tables, say."""
    before_batch: BatchHook | None = None
    """Run in each batch's transaction before its handlers, with the events they will get:
    load in one query what they will read."""
    after_batch: BatchHook | None = None
    """Run in each batch's transaction after its handlers: write what they buffered."""
    order_wait_s: float = 120.0
    """How long a stream's event waits for the one before it (held by a member that died,
    or by a broker's redelivery) before it is applied anyway, out of order. Longer than the
    bus takes to deliver again what a dead member held (JetStream's ack wait)."""


class _PoisonError(Exception):
    """A message to dead-letter now, with the reason."""

    def __init__(self, delivery: Delivery, reason: str, error: str) -> None:
        super().__init__(error)
        self.delivery = delivery
        self.reason = reason
        self.error = error


@dataclass(slots=True)
class ConsumerRunner:
    """Runs one member of a consumer's group until told to stop."""

    store: TransactionalStore
    bus: Bus
    consumer: Consumer
    handled: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    out_of_order: int = 0
    held_back: int = 0
    """Messages given back to wait for an earlier event of their stream."""
    _waiting_since: dict[str, float] = field(default_factory=dict)
    _late: set[str] = field(default_factory=set)
    _known: dict[str, int] = field(default_factory=dict)

    async def run(self, stop: asyncio.Event) -> None:
        """Fetch, handle and acknowledge batches until ``stop`` is set."""
        with log_context(consumer=self.consumer.name):
            if self.consumer.prepare is not None:
                await self.consumer.prepare(self.store)
            group, types = self.consumer.name, self.consumer.stream_types
            async with self.bus.consumer(group, types) as member:
                while not stop.is_set():
                    batch = await member.fetch(self.consumer.batch_size, 0.5)
                    if batch:
                        await self.handle_batch(member, batch, stop)

    async def handle_batch(
        self, member: BusConsumer, batch: Sequence[Delivery], stop: asyncio.Event
    ) -> None:
        """Apply ``batch`` once and acknowledge it.

        All in one transaction; if that fails, one message at a time, so that only the
        failing one is retried and, in the end, dead-lettered. A message whose stream has
        an earlier event not applied yet is given back to wait for it.
        """
        try:
            waiting = await self._apply(batch)
        except Exception:
            waiting = []
            for delivery in batch:
                outcome = await self._apply_alone(delivery, stop)
                if outcome is None:
                    return  # stopping: what is not acknowledged is delivered again
                if outcome:
                    waiting.append(delivery)
                else:
                    await member.ack([delivery])
        else:
            held = {d.message_id for d in waiting}
            await member.ack([d for d in batch if d.message_id not in held])
        self.held_back += len(waiting)
        for delivery in waiting:
            await member.retry_later(delivery, self._order_delay(delivery))

    async def _apply(self, batch: Sequence[Delivery], *, ordered: bool = True) -> list[Delivery]:
        """Apply what ``batch`` holds in one transaction; the deliveries left waiting for an
        earlier event of their stream."""
        name = self.consumer.name
        attributes = {"eskit.consumer": name, "eskit.messages": len(batch)}
        with span_from(
            f"consume {name}", (d.headers for d in batch), attributes, kind=SpanKind.CONSUMER
        ):
            return await self._apply_traced(batch, ordered)

    async def _apply_traced(self, batch: Sequence[Delivery], ordered: bool) -> list[Delivery]:
        name = self.consumer.name
        async with self.store.transaction() as tx:
            arrived = [(d, self._incoming(d)) for d in batch]
            checked = ordered and self._checks_order
            ready, waiting = await self._in_order(tx, arrived) if checked else (arrived, [])
            new = set(await tx.record_processed(name, [d.message_id for d, _ in ready]))
            self.duplicates += len(ready) - len(new)
            applied = [(d, i) for d, i in ready if d.message_id in new]
            self._note_late(applied)
            decoded = [(d, i, self._event(d, i)) for d, i in applied]
            handled = [(d, i, e) for d, i, e in decoded if e is not None]
            shared: dict[str, Any] = {}
            events = [incoming for _, incoming, _ in handled]
            if self.consumer.before_batch is not None:
                await self.consumer.before_batch(tx, events, shared)
            for delivery, incoming, event in handled:
                handler = self.consumer.handlers[incoming.event_type]
                await handler(event, MessageContext(incoming, delivery, tx, shared))
            if self.consumer.after_batch is not None:
                await self.consumer.after_batch(tx, events, shared)
            versions = _last_versions(i for _, i in applied) if self._checks_order else {}
            await tx.record_stream_versions(name, versions)
        self._remember(versions)
        self.handled += len(applied)
        record_consumer_batch(
            name, handled=len(applied), duplicates=len(ready) - len(new), held_back=len(waiting)
        )
        return [d for d, _ in waiting]

    @property
    def _checks_order(self) -> bool:
        """Whether members must keep streams in order themselves: not on a bus that hands a
        key's messages to one member at a time (Kafka), where the order check has no work."""
        return not self.bus.keeps_key_order

    def _remember(self, versions: dict[str, int]) -> None:
        """Keep committed versions: a lower bound of what the group applied, which spares a
        query for a stream whose next event comes to this member again."""
        if len(self._known) + len(versions) > 100_000:
            self._known.clear()
        known = self._known
        for stream, version in versions.items():
            if version > known.get(stream, 0):
                known[stream] = version

    async def _in_order(
        self, tx: UnitOfWork, arrived: list[tuple[Delivery, IncomingEvent]]
    ) -> tuple[list[tuple[Delivery, IncomingEvent]], list[tuple[Delivery, IncomingEvent]]]:
        """``arrived`` split into what can be applied now and what waits for an earlier
        event of its stream (and everything behind that in the batch)."""
        known = self._known
        unsure = {
            i.stream_id
            for _, i in arrived
            if i.previous_version is not None and i.previous_version > known.get(i.stream_id, 0)
        }
        fetched = await tx.stream_versions(self.consumer.name, unsure) if unsure else {}
        self._remember(fetched)
        last = {i.stream_id: known.get(i.stream_id, 0) for _, i in arrived}
        ready, waiting = [], []
        held: set[str] = set()
        for delivery, incoming in arrived:
            stream = incoming.stream_id
            if stream in held or not self._may_apply(delivery, incoming, last.get(stream)):
                held.add(stream)
                waiting.append((delivery, incoming))
                continue
            self._waiting_since.pop(delivery.message_id, None)
            before = last.get(stream, 0)
            if incoming.previous_version is not None and incoming.version <= before:
                self._late.add(delivery.message_id)  # or a duplicate: the inbox tells
            last[stream] = max(before, incoming.version)
            ready.append((delivery, incoming))
        return ready, waiting

    def _may_apply(self, delivery: Delivery, incoming: IncomingEvent, last: int | None) -> bool:
        previous = incoming.previous_version
        if previous is None or previous <= (last or 0):
            # no order to keep, the next event of the stream, or one applied already (the
            # inbox drops it)
            return True
        if len(self._waiting_since) > 10_000:  # forget what other members took since
            horizon = time.monotonic() - 2 * self.consumer.order_wait_s
            self._waiting_since = {k: t for k, t in self._waiting_since.items() if t > horizon}
        since = self._waiting_since.setdefault(delivery.message_id, time.monotonic())
        if time.monotonic() - since < self.consumer.order_wait_s:
            return False
        self.out_of_order += 1
        with _about(delivery):
            _log.warning(
                "%s: %s of %s waited %.0f s for version %d; applied out of order",
                self.consumer.name,
                delivery.message_id,
                incoming.stream_id,
                self.consumer.order_wait_s,
                previous,
            )
        return True

    def _note_late(self, applied: list[tuple[Delivery, IncomingEvent]]) -> None:
        """Count and log the events applied after a later one of their stream."""
        if not self._late:
            return
        for delivery, incoming in applied:
            if delivery.message_id in self._late:
                self.out_of_order += 1
                with _about(delivery):
                    _log.warning(
                        "%s: %s (version %d of %s) came after a later version; applied late",
                        self.consumer.name,
                        delivery.message_id,
                        incoming.version,
                        incoming.stream_id,
                    )
        self._late.clear()

    def _order_delay(self, delivery: Delivery) -> float:
        """How long a message waiting for its stream's earlier event is held back: briefly
        at first (that event is being applied by another member), then longer."""
        since = self._waiting_since.get(delivery.message_id, time.monotonic())
        return min(max(0.05, (time.monotonic() - since) / 4), 1.0)

    async def _apply_alone(self, delivery: Delivery, stop: asyncio.Event) -> bool | None:
        """Apply one message, retrying with backoff: True if it waits for an earlier event
        of its stream, False once applied or dead-lettered, None if told to stop first."""
        delay = self.consumer.retry_backoff_s
        error = ""
        for attempt in range(1, self.consumer.max_attempts + 1):
            try:
                return bool(await self._apply([delivery], ordered=not _is_replay(delivery)))
            except _PoisonError as poison:
                await self._dead_letter(delivery, poison.reason, poison.error, attempt)
                return False
            except Exception as exc:
                error = f"{type(exc).__name__}: {exc}"
                with _about(delivery):
                    _log.warning(
                        "%s: attempt %d of %s failed: %s",
                        self.consumer.name,
                        attempt,
                        delivery.message_id,
                        error,
                    )
            if attempt < self.consumer.max_attempts:
                record_consumer_retry(self.consumer.name)
                await _sleep_unless(stop, delay)
                delay = min(delay * 2, self.consumer.max_backoff_s)
            if stop.is_set():
                return None
        await self._dead_letter(delivery, "handler_failed", error, self.consumer.max_attempts)
        return False

    def _incoming(self, delivery: Delivery) -> IncomingEvent:
        """The event's envelope; _PoisonError if it cannot be read."""
        try:
            return incoming_event(delivery)
        except MessageDecodingError as exc:
            raise _PoisonError(delivery, exc.reason, exc.message) from exc

    def _event(self, delivery: Delivery, incoming: IncomingEvent) -> Event | None:
        """The message's event (None for a type nobody here handles); _PoisonError if it
        cannot be decoded."""
        if incoming.event_type not in self.consumer.handlers:
            return None
        try:
            return self.consumer.registry.decoder(incoming.event_type, incoming.schema_version)(
                incoming.data, incoming.position
            )
        except EventDecodingError as exc:
            raise _PoisonError(delivery, exc.code, exc.message) from exc

    async def _dead_letter(
        self, delivery: Delivery, reason: str, error: str, attempts: int
    ) -> None:
        with _about(delivery):
            _log.error(
                "%s: %s dead-lettered (%s): %s",
                self.consumer.name,
                delivery.message_id,
                reason,
                error,
            )
        original = delivery.headers.get(DEAD_LETTER_OF, delivery.message_id)
        await self.bus.publish(
            [
                OutgoingMessage(
                    # an id of its own: a broker that drops repeated ids (JetStream) must
                    # keep a message dead-lettered again after a failed replay
                    message_id=str(uuid.uuid4()),
                    stream_type=dead_letter_type(self.consumer.name),
                    key=delivery.key,
                    body=delivery.body,
                    headers={
                        **delivery.headers,
                        DEAD_LETTER_OF: original,
                        "eskit-dead-letter-reason": reason,
                        "eskit-dead-letter-error": error[:1000],
                        "eskit-dead-letter-attempts": str(attempts),
                    },
                )
            ]
        )
        self.dead_lettered += 1
        record_consumer_dead_letter(self.consumer.name, reason)
        await self._pass_over(delivery)

    async def _pass_over(self, delivery: Delivery) -> None:
        """Let the later events of a dead-lettered message's stream go on without it."""
        stream = delivery.headers.get("eskit-stream-id")
        version = delivery.headers.get("eskit-version", "")
        if self._checks_order and stream is not None and version.isdigit():
            async with self.store.transaction() as tx:
                await tx.record_stream_versions(self.consumer.name, {stream: int(version)})

    async def replay_dead_letters(self, *, timeout_s: float = 2.0) -> int:
        """Apply the group's dead letters again (after a fix); how many took effect.

        Each goes through the inbox under its original id, so one that took effect before
        is not applied twice; one that fails again is dead-lettered again, and this run
        leaves that copy for the next replay.
        """
        applied = 0
        attempted: set[str] = set()
        stop = asyncio.Event()
        group = f"{self.consumer.name}-replay"
        async with self.bus.consumer(group, [dead_letter_type(self.consumer.name)]) as member:
            while batch := await member.fetch(self.consumer.batch_size, timeout_s):
                fresh = [d for d in batch if d.headers.get(DEAD_LETTER_OF) not in attempted]
                if not fresh:
                    break  # only copies this run made: they wait for the next one
                for delivery in fresh:
                    original = delivery.headers.get(DEAD_LETTER_OF, delivery.message_id)
                    attempted.add(original)
                    before = self.dead_lettered
                    await self._apply_alone(replace(delivery, message_id=original), stop)
                    applied += self.dead_lettered == before
                await member.ack(fresh)
        return applied


def _last_versions(applied: Iterable[IncomingEvent]) -> dict[str, int]:
    """The highest version applied of each stream."""
    last: dict[str, int] = {}
    for incoming in applied:
        last[incoming.stream_id] = max(last.get(incoming.stream_id, 0), incoming.version)
    return last


def _is_replay(delivery: Delivery) -> bool:
    """A dead letter applied again: out of its stream's order by nature."""
    return DEAD_LETTER_OF in delivery.headers


async def _sleep_unless(stop: asyncio.Event, delay_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay_s)


def _about(delivery: Delivery) -> log_context:
    """The log context of what concerns ``delivery``: its event's stream, position and
    correlation, as its headers say (a message that is no event of a store has none)."""
    headers = delivery.headers
    position = headers.get("eskit-position", "")
    return log_context(
        stream_id=headers.get("eskit-stream-id"),
        position=int(position) if position.isdigit() else None,
        correlation_id=headers.get("eskit-correlation-id"),
    )
