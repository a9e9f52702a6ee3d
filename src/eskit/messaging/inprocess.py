"""The in-process bus: the port's semantics in memory, for tests and one-process apps.

It keeps every message for the life of the bus, so a group that joins late reads from the
start, as a new Kafka group with ``auto_offset_reset=earliest`` or a new JetStream durable
consumer does.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from eskit.messaging.message import Delivery, OutgoingMessage
from eskit.messaging.topology import Topology

__all__ = ["InProcessBus"]


@dataclass(slots=True)
class _TopicCursor:
    """One group's progress through one topic."""

    low: int = 0  # every message below it is acknowledged
    acked: set[int] = field(default_factory=set)
    holders: dict[int, int] = field(default_factory=dict)  # index -> member holding it
    attempts: dict[int, int] = field(default_factory=dict)
    not_before: dict[int, float] = field(default_factory=dict)

    def ack(self, index: int) -> None:
        self.holders.pop(index, None)
        self.not_before.pop(index, None)
        self.attempts.pop(index, None)
        self.acked.add(index)
        while self.low in self.acked:
            self.acked.discard(self.low)
            self.low += 1


@dataclass(frozen=True, slots=True)
class _Handle:
    topic: str
    index: int
    member: int


class InProcessBus:
    """A bus in this process's memory; see ``eskit.messaging.port.Bus``."""

    keeps_key_order = False
    """See ``Bus.keeps_key_order``."""

    def __init__(self, topology: Topology | None = None) -> None:
        self.topology = topology or Topology()
        self._logs: dict[str, list[OutgoingMessage]] = {}
        self._groups: dict[str, dict[str, _TopicCursor]] = {}
        self._members = itertools.count(1)
        self._changed = asyncio.Event()

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Store ``messages`` in order; they are visible to every group at once."""
        for message in messages:
            topic = self.topology.topic(message.stream_type)
            self._logs.setdefault(topic, []).append(message)
        self._wake()

    def consumer(self, group: str, stream_types: Sequence[str]) -> _InProcessConsumer:
        """A member of ``group`` reading ``stream_types``' topics."""
        topics = sorted({self.topology.topic(t) for t in stream_types})
        return _InProcessConsumer(self, group, topics, next(self._members))

    async def close(self) -> None:
        """Nothing to release: the messages stay for the life of the object."""

    def _wake(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def _cursor(self, group: str, topic: str) -> _TopicCursor:
        return self._groups.setdefault(group, {}).setdefault(topic, _TopicCursor())

    def _take(self, group: str, topic: str, member: int, room: int) -> list[Delivery]:
        """Messages ``member`` may have now, in order, each key held by one member at a time."""
        log = self._logs.get(topic, [])
        cursor = self._cursor(group, topic)
        now = time.monotonic()
        blocked: set[str] = set()
        taken: list[Delivery] = []
        for index in range(cursor.low, len(log)):
            if len(taken) >= room:
                break
            message = log[index]
            if index in cursor.acked or message.key in blocked:
                continue
            holder = cursor.holders.get(index)
            if holder is not None or cursor.not_before.get(index, 0.0) > now:
                if holder != member:
                    blocked.add(message.key)  # its later messages wait behind it
                continue
            cursor.holders[index] = member
            attempt = cursor.attempts[index] = cursor.attempts.get(index, 0) + 1
            taken.append(_delivery(message, topic, attempt, _Handle(topic, index, member)))
        return taken

    def _next_due(self, group: str, topics: Sequence[str]) -> float | None:
        dues = [
            due
            for topic in topics
            for due in self._cursor(group, topic).not_before.values()
            if due > time.monotonic()
        ]
        return min(dues, default=None)

    def _release(self, group: str, member: int) -> None:
        for cursor in self._groups.get(group, {}).values():
            for index in [i for i, held_by in cursor.holders.items() if held_by == member]:
                del cursor.holders[index]
        self._wake()


def _delivery(message: OutgoingMessage, topic: str, attempt: int, handle: _Handle) -> Delivery:
    return Delivery(
        message_id=message.message_id,
        topic=topic,
        key=message.key,
        body=message.body,
        headers=dict(message.headers),
        attempt=attempt,
        handle=handle,
    )


class _InProcessConsumer:
    """A member of a group of the in-process bus."""

    def __init__(self, bus: InProcessBus, group: str, topics: list[str], member: int) -> None:
        self._bus = bus
        self._group = group
        self._topics = topics
        self._member = member

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # what this member held and did not acknowledge goes to the others, as when a
        # Kafka member leaves its group or a JetStream ack wait runs out
        self._bus._release(self._group, self._member)

    async def fetch(self, max_messages: int, timeout_s: float) -> Sequence[Delivery]:
        """Up to ``max_messages`` messages, waiting at most ``timeout_s`` for the first."""
        deadline = time.monotonic() + timeout_s
        while True:
            changed = self._bus._changed
            taken: list[Delivery] = []
            for topic in self._topics:
                room = max_messages - len(taken)
                taken += self._bus._take(self._group, topic, self._member, room)
            left = deadline - time.monotonic()
            if taken or left <= 0:
                return taken
            due = self._bus._next_due(self._group, self._topics)
            wait = left if due is None else min(left, due - time.monotonic())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), max(wait, 0.001))

    async def ack(self, deliveries: Sequence[Delivery]) -> None:
        """Acknowledge handled messages."""
        for delivery in deliveries:
            handle = _handle(delivery)
            self._bus._cursor(self._group, handle.topic).ack(handle.index)
        self._bus._wake()

    async def retry_later(self, delivery: Delivery, delay_s: float) -> None:
        """Give ``delivery`` back for another attempt after ``delay_s``."""
        handle = _handle(delivery)
        cursor = self._bus._cursor(self._group, handle.topic)
        cursor.holders.pop(handle.index, None)
        cursor.not_before[handle.index] = time.monotonic() + delay_s
        self._bus._wake()


def _handle(delivery: Delivery) -> _Handle:
    handle = delivery.handle
    if not isinstance(handle, _Handle):
        raise TypeError(f"{delivery.message_id}: not a delivery of this bus")
    return handle
