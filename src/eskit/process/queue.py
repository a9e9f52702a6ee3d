"""The command queue's door: accept a command, keep it durably, answer at once.

::

    queue = CommandQueue(store, dispatcher, max_waiting=10_000)
    receipt = await queue.submit(BidOnInvoice(aggregate_id=investor, invoice_id=..., ...))
    # 202: receipt.command_id; the outcome later from queue.status(receipt.command_id)

A command is checked for shape before it is queued (a malformed or unknown one is refused
at the door and never stored), stored in the store's own database, and handled later by
a :class:`~eskit.process.queue_worker.QueueWorker` in this or another process. Submitting a
command id again queues nothing and answers the same receipt, so a client's retry is safe.
A queue holding ``max_waiting`` commands refuses more with QueueFullError (HTTP 429 with
Retry-After) until workers catch up: back-pressure instead of an ever-growing backlog.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from eskit.domain.commands import Command
from eskit.errors import CommandNotFoundError, IdempotencyKeyReusedError, QueueFullError
from eskit.observability.tracing import inject
from eskit.process.clock import Clock, SystemClock
from eskit.process.dispatch import CommandDispatcher, command_type_name
from eskit.store.port import EventStoreBackend
from eskit.store.queue import FINAL_STATUSES, QueuedCommand
from eskit.store.unit_of_work import TransactionalStore, require_transactions

__all__ = ["CommandQueue", "Receipt", "queued_command"]


@dataclass(frozen=True, slots=True)
class Receipt:
    """What the door answers: the command's id, the aggregate it targets, its type."""

    command_id: uuid.UUID
    aggregate_id: str
    command_type: str


def queued_command(
    command: Command,
    *,
    now: datetime,
    metadata: Mapping[str, Any] | None = None,
    available_at: datetime | None = None,
    key: str | None = None,
) -> QueuedCommand:
    """``command`` as a queue row, due at ``available_at`` (now when None); its metadata
    carries the current trace context, so the worker's handling joins the trace."""
    given = dict(metadata or {})
    inject(given)
    return QueuedCommand(
        id=command.command_id,
        command_type=command_type_name(type(command)),
        payload=command.model_dump_json(),
        available_at=available_at or now,
        enqueued_at=now,
        metadata=given,
        key=key,
    )


class CommandQueue:
    """Accepts commands into the store's queue and answers their status.

    ``max_waiting``: how many due commands (waiting or running) the queue holds before it
    refuses more; ``retry_after_s`` is what a refused caller is told to wait. The depth is
    read from the store at most every ``depth_ttl_s`` (counting on each request would cost
    a query per command).
    """

    def __init__(
        self,
        store: EventStoreBackend,
        dispatcher: CommandDispatcher,
        *,
        max_waiting: int = 10_000,
        retry_after_s: float = 1.0,
        depth_ttl_s: float = 0.1,
        clock: Clock | None = None,
    ) -> None:
        if max_waiting < 1:
            raise ValueError("max_waiting must be at least 1")
        self.store: TransactionalStore = require_transactions(store, "the command queue")
        self.dispatcher = dispatcher
        self.max_waiting = max_waiting
        self.retry_after_s = retry_after_s
        self.depth_ttl_s = depth_ttl_s
        self.clock: Clock = clock or SystemClock()
        self.wake = asyncio.Event()
        """Set when this door queued something: workers in this process look at once."""
        self._waiting = 0
        self._waiting_read_at = -1e9

    async def submit(
        self,
        command: Command,
        metadata: Mapping[str, Any] | None = None,
        *,
        available_at: datetime | None = None,
        key: str | None = None,
    ) -> Receipt:
        """Queue ``command`` (due at ``available_at``, now when None) and answer its receipt.

        Raises QueueFullError when ``max_waiting`` commands wait already (a command id
        queued before is answered even then), StoreUnavailableError if the store cannot
        take it, IdempotencyKeyReusedError if the id was queued before for another command
        (the same fields but the ids: a retry; anything else: a mistake), ValueError if
        ``key`` is held by another command still to run. A command id queued before is not
        queued again: the receipt is the same.
        """
        try:
            await self._check_room()
        except QueueFullError:
            earlier = await self.store.committed.queue.get(command.command_id)
            if earlier is None:
                raise
            return _receipt_of(earlier, command)
        row = queued_command(
            command,
            now=self.clock.now(),
            metadata=metadata,
            available_at=available_at,
            key=key,
        )
        async with self.store.transaction() as tx:
            added = await tx.queue.enqueue([row])
            stored = None if added else await tx.queue.get(command.command_id)
        self._waiting += added
        self.wake.set()
        if added:
            return Receipt(command.command_id, command.aggregate_id, row.command_type)
        if stored is None:
            raise ValueError(f"key {key!r} is held by another command still to run")
        return _receipt_of(stored, command)

    async def submit_raw(
        self,
        command_type: str,
        data: Mapping[str, Any] | str | bytes,
        metadata: Mapping[str, Any] | None = None,
    ) -> Receipt:
        """Parse a command of type ``command_type`` from raw input and queue it.

        Raises UnknownCommandTypeError or InvalidCommandError (nothing is queued), or what
        :meth:`submit` raises.
        """
        return await self.submit(self.dispatcher.parse(command_type, data), metadata)

    async def status(self, command_id: uuid.UUID) -> QueuedCommand:
        """The queued command with its status and, once final, its outcome.

        Raises CommandNotFoundError if no command has this id.
        """
        found = await self.store.committed.queue.get(command_id)
        if found is None:
            raise CommandNotFoundError("command", str(command_id))
        return found

    async def wait(
        self, command_id: uuid.UUID, *, timeout_s: float = 10.0, interval_s: float = 0.01
    ) -> QueuedCommand:
        """The command once its outcome is final (done, refused or dead).

        Raises TimeoutError if it is not final within ``timeout_s``, CommandNotFoundError if
        it does not exist.
        """
        deadline = time.monotonic() + timeout_s
        while True:
            found = await self.status(command_id)
            if found.status in FINAL_STATUSES:
                return found
            if time.monotonic() > deadline:
                raise TimeoutError(f"command {command_id} still {found.status} after {timeout_s} s")
            await asyncio.sleep(interval_s)

    async def _check_room(self) -> None:
        now = time.monotonic()
        if now - self._waiting_read_at > self.depth_ttl_s:
            # marked read before the query: concurrent submitters do not all read it again
            self._waiting_read_at = now
            depth = await self.store.committed.queue.depth(self.clock.now())
            self._waiting = depth.ready + depth.running
        if self._waiting >= self.max_waiting:
            raise QueueFullError(self._waiting, self.max_waiting, self.retry_after_s)


def _receipt_of(stored: QueuedCommand, command: Command) -> Receipt:
    """The receipt of a command id queued before, if ``command`` repeats what it queued."""
    fields = orjson.loads(stored.payload)
    mine = command.model_dump(mode="json")
    ids = ("command_id", "aggregate_id")
    # a creating command's aggregate id is new on every try unless the client gave it
    same = stored.command_type == command_type_name(type(command)) and {
        k: v for k, v in fields.items() if k not in ids
    } == {k: v for k, v in mine.items() if k not in ids}
    if not same:
        raise IdempotencyKeyReusedError(str(command.command_id))
    return Receipt(stored.id, str(fields.get("aggregate_id", "")), stored.command_type)
