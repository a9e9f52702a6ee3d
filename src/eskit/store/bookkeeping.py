"""What subscriptions keep beside the events: checkpoints and parked events.

A checkpoint moves only by compare-and-set inside the transaction that wrote what it
covers (:meth:`CheckpointSession.advance`): if two runners of one projection ever overlap,
or a rebuild swapped its tables in, the loser's batch rolls back whole instead of being
applied twice. An operator may park a poison event (:class:`DeadLetter`) so that its
projection goes on without it; nothing is skipped otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

__all__ = [
    "CheckpointReader",
    "CheckpointRow",
    "CheckpointSession",
    "DeadLetter",
    "DeadLetterReader",
    "DeadLetterSession",
    "InboxReader",
]


@dataclass(frozen=True, slots=True)
class CheckpointRow:
    """A checkpoint as stored, with the last error its subscription met (if it is failing)."""

    name: str
    position: int
    updated_at: datetime | None = None
    error: str | None = None
    error_position: int | None = None
    error_count: int = 0
    error_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A parked event of one projection."""

    projection: str
    position: int
    event_id: str
    stream_id: str
    event_type: str
    error: str
    parked_at: datetime


class CheckpointReader(Protocol):
    """Checkpoints as committed (or as the session left them)."""

    async def get(self, name: str) -> CheckpointRow:
        """The checkpoint of ``name`` (position 0 and no error when it never ran)."""
        ...

    async def all(self) -> dict[str, CheckpointRow]:
        """Every stored checkpoint by name."""
        ...


class CheckpointSession(CheckpointReader, Protocol):
    """Moving checkpoints inside a transaction."""

    async def hold(self, name: str) -> int:
        """The position of ``name``, kept from other writers until this transaction ends."""
        ...

    async def advance(self, name: str, *, expected: int, to: int) -> None:
        """Move ``name`` from ``expected`` to ``to`` and clear its error.

        Raises CheckpointMovedError when it is not at ``expected``: the caller's
        transaction must roll back.
        """
        ...

    async def reset(self, name: str, to: int = 0) -> None:
        """Set ``name`` to ``to`` whatever it was, clearing its error (a swap, an operator)."""
        ...

    async def delete(self, name: str) -> None:
        """Forget ``name``."""
        ...

    async def record_error(self, name: str, position: int, error: str) -> None:
        """Remember that ``name`` failed at ``position`` (counted; the position stays)."""
        ...


class DeadLetterReader(Protocol):
    """Parked events."""

    async def all(self, projection: str | None = None) -> list[DeadLetter]:
        """Parked events of one projection or of all, by projection then position."""
        ...

    async def positions(self, projection: str) -> set[int]:
        """Positions of the events parked for ``projection``."""
        ...


class DeadLetterSession(DeadLetterReader, Protocol):
    """Parking and unparking inside a transaction."""

    async def park(self, letter: DeadLetter) -> None:
        """Park ``letter`` (parking an event twice keeps the first)."""
        ...

    async def unpark(self, projection: str, position: int) -> bool:
        """Forget a parked event; False if it was not parked."""
        ...


class InboxReader(Protocol):
    """Which messages a consumer or reactor recorded as processed (see
    :meth:`~eskit.store.unit_of_work.UnitOfWork.record_processed`)."""

    async def seen(self, consumer: str, message_ids: Sequence[str]) -> set[str]:
        """Those of ``message_ids`` that ``consumer`` recorded as processed."""
        ...
