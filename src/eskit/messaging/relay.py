"""The relay: the event store as outbox, published to a bus in global order.

A relay is a subscription with a checkpoint of its own. It reads committed events after
its checkpoint, publishes them as one batch, and moves the checkpoint only once the broker
acknowledged every message of it. A crash between the two sends the batch again: delivery
is at least once, and the copies carry the same message id (JetStream drops them; the
consumers' inbox drops them on Kafka). It wakes on commits, as projections do, instead of
polling; a broker that is down never fails an append: the relay waits, retries with
backoff, says it is stalled and why, and catches up when the broker is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any, Literal

from opentelemetry.trace import SpanKind

from eskit.errors import CheckpointMovedError
from eskit.logcontext import log_context
from eskit.messaging.envelope import event_message
from eskit.messaging.errors import BusUnavailableError
from eskit.messaging.message import OutgoingMessage
from eskit.messaging.port import Bus
from eskit.observability.metrics import record_relay_broker_error, record_relay_published
from eskit.observability.tracing import span_from
from eskit.store import LogPage, StoredEvent, TransactionalStore
from eskit.store.commits import CommitListener
from eskit.store.leases import LeaseInfo

__all__ = ["CHECKPOINT_PREFIX", "Mapper", "Relay", "RelayStatus"]

_log = logging.getLogger(__name__)

CHECKPOINT_PREFIX = "relay:"
"""A relay named ``outbox`` keeps its position in the checkpoint ``relay:outbox``."""

Mapper = Callable[[StoredEvent], OutgoingMessage | None]
_Prepared = tuple[LogPage, list[OutgoingMessage]]
"""Turns a stored event into the message to publish (an integration event with a public
contract of its own, say), or None to keep it in."""


@dataclass(frozen=True, slots=True)
class RelayStatus:
    """Where a relay stands; ``error`` says why it is stalled. ``lease`` says which process
    publishes (see ``eskit.store.leases.LeaseInfo``); None where the report does not know."""

    name: str
    state: Literal["running", "stalled", "stopped"]
    position: int
    head: int
    published: int
    error: str | None
    stalled_for_s: float | None
    lease: LeaseInfo | None = None

    @property
    def lag(self) -> int:
        """Positions between the last event published and the head of the log."""
        return max(self.head - self.position, 0)


class Relay:
    """Publishes a store's committed events to a bus, in order, at least once."""

    def __init__(
        self,
        store: TransactionalStore,
        bus: Bus,
        *,
        name: str = "outbox",
        stream_types: Collection[str] | None = None,
        event_types: Collection[str] | None = None,
        mapper: Mapper | None = None,
        batch_size: int = 500,
        retry_backoff_s: float = 0.05,
        max_backoff_s: float = 5.0,
        poll_interval_s: float = 1.0,
    ) -> None:
        self.store = store
        self.bus = bus
        self.name = name
        self.stream_types = stream_types
        self.event_types = event_types
        self.mapper = mapper or (_with_previous if event_types is None else event_message)
        """Without an event-type filter or a mapper, every event of a relayed stream leaves,
        so each message can name the version before it: consumers keep streams in order
        across members with it."""
        self.batch_size = batch_size
        self.retry_backoff_s = retry_backoff_s
        self.max_backoff_s = max_backoff_s
        self.poll_interval_s = poll_interval_s
        self.position = 0
        self.published = 0
        self._state: Literal["running", "stalled", "stopped"] = "stopped"
        self._error: str | None = None
        self._stalled_at: float | None = None

    @property
    def checkpoint(self) -> str:
        """The name of the checkpoint this relay keeps."""
        return CHECKPOINT_PREFIX + self.name

    async def load(self) -> int:
        """Read the relay's checkpoint; the position it will publish after."""
        row = await self.store.committed.checkpoints.get(self.checkpoint)
        self.position = row.position
        return self.position

    async def step(self) -> int:
        """Publish the next page after the checkpoint and move it; events read (0: caught up).

        Raises ``BusUnavailableError`` if the broker did not acknowledge the whole page;
        the checkpoint then stays where it was.
        """
        return await self._send(await self._prepare(self.position))

    async def _prepare(self, after: int) -> _Prepared:
        """The page after ``after`` and its messages, built while nothing else waits."""
        page = await self.store.read_page(
            after=after,
            limit=self.batch_size,
            stream_types=self.stream_types,
            event_types=self.event_types,
        )
        return page, [m for m in map(self.mapper, page.events) if m is not None]

    def _end(self, page: LogPage, after: int) -> int:
        """Where the checkpoint goes once ``page`` (read after ``after``) is published."""
        end = page.events[-1].position if page.events else after
        if len(page.events) < self.batch_size:
            end = max(end, page.head)  # a short page holds every match up to its head
        return end

    async def _send(self, prepared: _Prepared) -> int:
        """Publish a page read after the checkpoint and move the checkpoint past it."""
        page, outgoing = prepared
        end = self._end(page, self.position)
        if end == self.position:
            return 0
        if outgoing:
            attributes = {"eskit.messages": len(outgoing), "eskit.position": end}
            with span_from(
                "publish", (e.metadata for e in page.events), attributes, kind=SpanKind.PRODUCER
            ):
                await self.bus.publish(outgoing)
        async with self.store.transaction() as uow:
            await uow.checkpoints.advance(self.checkpoint, expected=self.position, to=end)
        self.position = end
        self.published += len(outgoing)
        record_relay_published(self.name, len(outgoing))
        return len(page.events)

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set, waking on commits, retrying a broker that is down."""
        listener = await self._listen()
        self._state = "running"
        try:
            with log_context(relay=self.name):
                await self.load()
                await self._loop(stop)
        finally:
            self._state = "stopped"
            if listener is not None:
                await listener.stop()

    async def _loop(self, stop: asyncio.Event) -> None:
        delay = self.retry_backoff_s
        ahead: asyncio.Task[_Prepared] | None = None
        while not stop.is_set():
            generation = self.store.appended.generation
            try:
                prepared = await ahead if ahead is not None else await self._prepare(self.position)
                ahead = None
                page = prepared[0]
                if len(page.events) >= self.batch_size:
                    # a backlog: the next page is read and its messages built while the
                    # broker acknowledges this one
                    ahead = asyncio.create_task(self._prepare(self._end(page, self.position)))
                moved = await self._send(prepared)
            except (BusUnavailableError, CheckpointMovedError) as exc:
                await _cancelled(ahead)
                ahead = None
                if isinstance(exc, CheckpointMovedError):
                    # another relay of the same name moved it: what both sent is a
                    # duplicate the broker or the consumers drop; go on from where it is
                    await self.load()
                    continue
                await self._stalled(exc)
                await _wait(stop, None, delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            self._recovered()
            delay = self.retry_backoff_s
            if moved < self.batch_size:
                await _wait(stop, (self.store, generation), self.poll_interval_s)
        await _cancelled(ahead)

    async def _listen(self) -> CommitListener | None:
        listener = self.store.commit_listener()
        if listener is not None:
            await listener.start()
        return listener

    async def _stalled(self, exc: BusUnavailableError) -> None:
        record_relay_broker_error(self.name)
        if self._state != "stalled":
            _log.warning("relay %s stalled: %s", self.name, exc.message)
            self._stalled_at = time.monotonic()
        self._state = "stalled"
        self._error = exc.message
        try:
            async with self.store.transaction() as uow:
                await uow.checkpoints.record_error(self.checkpoint, self.position, exc.message)
        except Exception as store_error:  # the store may be down too: status still says why
            _log.warning("relay %s: could not record its error: %s", self.name, store_error)

    def _recovered(self) -> None:
        if self._state == "stalled":
            _log.warning("relay %s caught up with the broker again", self.name)
        self._state = "running"
        self._error = None
        self._stalled_at = None

    def status(self) -> RelayStatus:
        """Where the relay stands now, as this process sees it."""
        stalled_for = None if self._stalled_at is None else time.monotonic() - self._stalled_at
        return RelayStatus(
            name=self.name,
            state=self._state,
            position=self.position,
            head=max(self.store.appended.position, self.position),
            published=self.published,
            error=self._error,
            stalled_for_s=stalled_for,
        )


def _with_previous(event: StoredEvent) -> OutgoingMessage:
    return event_message(event, previous=True)


async def _cancelled(task: asyncio.Task[_Prepared] | None) -> None:
    """``task`` cancelled and awaited (a page read ahead that will not be sent)."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def _wait(stop: asyncio.Event, commits: tuple[Any, int] | None, timeout_s: float) -> None:
    """Until ``stop``, a commit after the given generation, or ``timeout_s``."""
    waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(stop.wait())]
    if commits is not None:
        store, generation = commits
        waits.append(asyncio.ensure_future(store.appended.wait(generation, timeout_s)))
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
