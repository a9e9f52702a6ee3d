"""The command queue's rows: commands accepted now and handled later, kept in the store's
database so that they survive restarts and commit with whatever queued them.

A queued command moves ``queued`` → ``running`` (a worker claimed it, for a lease) → one of
``done`` (handled: its outcome holds the version and position), ``refused`` (a business
rule or validation said no: its outcome holds the typed error) or ``dead`` (it kept failing
for reasons that were not its own: the last error is kept). A command may be due later
(``available_at``): a saga's deadline is such a command, named by a ``key`` so that the saga
can cancel it while it has not run. A worker that dies holding a command loses its lease;
another claims it again when the lease ends (handling is idempotent by command id, so that
second handling answers the first outcome).

Adapters claim with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (workers never wait on each
other's rows) and through the single writer on SQLite.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

__all__ = [
    "FINAL_STATUSES",
    "QueueDepth",
    "QueueReader",
    "QueueSession",
    "QueueStatus",
    "QueuedCommand",
]

QueueStatus = Literal["queued", "running", "done", "refused", "dead"]
FINAL_STATUSES: tuple[QueueStatus, ...] = ("done", "refused", "dead")


@dataclass(frozen=True, slots=True)
class QueuedCommand:
    """One command in the queue.

    ``payload`` is the command as JSON text; ``command_type`` the name its class is
    registered under. ``outcome`` is set once it is final: for ``done`` the keys
    ``aggregate_id``, ``version``, ``position``, ``deduplicated``; for ``refused`` and
    ``dead`` an ``error`` object (``code``, ``message``, ``details``). ``error`` is the last
    transient failure, while it is being retried. ``lease_until``: while ``running``, when
    another worker may take it over.
    """

    id: uuid.UUID
    command_type: str
    payload: str
    available_at: datetime
    enqueued_at: datetime
    metadata: dict[str, Any] = field(default_factory=dict)
    key: str | None = None
    status: QueueStatus = "queued"
    attempts: int = 0
    updated_at: datetime | None = None
    lease_until: datetime | None = None
    outcome: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class QueueDepth:
    """How full the queue is at ``now``: ``ready`` commands are due and waiting, ``running``
    ones are claimed, ``scheduled`` ones are due later (deadlines). ``oldest_ready_at`` is
    when the longest-waiting ready command became due (None when none waits)."""

    ready: int = 0
    running: int = 0
    scheduled: int = 0
    oldest_ready_at: datetime | None = None


class QueueReader(Protocol):
    """Queued commands as committed (or as the session left them)."""

    async def get(self, command_id: uuid.UUID) -> QueuedCommand | None:
        """The command with this id, whatever its status."""
        ...

    async def depth(self, now: datetime) -> QueueDepth:
        """How many commands wait, run and are scheduled at ``now``."""
        ...

    async def list(
        self, *, status: QueueStatus | None = None, limit: int = 100
    ) -> list[QueuedCommand]:
        """Commands with ``status`` (every status when None), oldest enqueued first."""
        ...


class QueueSession(QueueReader, Protocol):
    """The queue inside a transaction."""

    async def enqueue(self, commands: Sequence[QueuedCommand]) -> int:
        """Store each command whose id is not stored yet (a repeat is ignored, so
        re-queueing after a crash is safe); returns how many were new.

        A command whose ``key`` is held by another queued or running command is ignored
        too (one live deadline per key).
        """
        ...

    async def claim(self, *, now: datetime, limit: int, lease_s: float) -> list[QueuedCommand]:
        """Take up to ``limit`` due commands: ``queued`` ones with ``available_at <= now``
        and ``running`` ones whose lease ended before ``now``, oldest due first.

        Each is returned ``running``, its ``attempts`` one up and its lease until
        ``now + lease_s``. Two workers never take the same command while its lease holds.
        """
        ...

    async def finish(
        self,
        command_id: uuid.UUID,
        *,
        status: QueueStatus,
        outcome: dict[str, Any] | None,
        now: datetime,
    ) -> bool:
        """Record the final ``status`` (``done``, ``refused`` or ``dead``) and ``outcome`` of
        a ``running`` command; False (nothing changed) if it is not running."""
        ...

    async def retry(
        self, command_id: uuid.UUID, *, available_at: datetime, error: str, now: datetime
    ) -> bool:
        """Put a ``running`` command back as ``queued``, due at ``available_at``, keeping
        ``error``; False if it is not running."""
        ...

    async def cancel(self, key: str) -> bool:
        """Remove the ``queued`` command holding ``key`` (a running or final one stays);
        whether one was removed."""
        ...
