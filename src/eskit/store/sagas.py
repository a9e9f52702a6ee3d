"""Saga instances as stored: one row per saga and correlation id, beside the events.

A saga's state, its step and the commands it issues (see :mod:`eskit.store.queue`) are
written in one transaction with the checkpoint of the events it handled, so a crash
anywhere loses or doubles nothing. Each write names the version it read (compare-and-set):
two processes that ever handle one saga at once cannot both commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

__all__ = ["SagaReader", "SagaRecord", "SagaSession", "SagaStatus"]

SagaStatus = Literal["running", "completed", "compensating", "compensated", "failed"]


@dataclass(frozen=True, slots=True)
class SagaRecord:
    """One saga instance: ``saga`` is the saga's name, ``correlation_id`` the id of what it
    follows (an invoice's id, say). ``step`` names where it is; ``reason`` why it ended as
    it did, or what it waits for. ``version`` is 1 after the first write."""

    saga: str
    correlation_id: str
    status: SagaStatus
    step: str
    version: int
    started_at: datetime
    updated_at: datetime
    state: dict[str, Any] = field(default_factory=dict)
    reason: str = ""


class SagaReader(Protocol):
    """Saga instances as committed (or as the session left them)."""

    async def get(self, saga: str, correlation_ids: Sequence[str]) -> dict[str, SagaRecord]:
        """The instances of ``saga`` with these correlation ids, by id (missing ones left out)."""
        ...

    async def list(
        self,
        *,
        saga: str | None = None,
        status: SagaStatus | None = None,
        updated_before: datetime | None = None,
        limit: int = 100,
    ) -> list[SagaRecord]:
        """Instances (of ``saga``, with ``status``, last written before ``updated_before``,
        where given), least recently updated first."""
        ...

    async def counts(self) -> dict[tuple[str, SagaStatus], int]:
        """How many instances each saga has in each status."""
        ...


class SagaSession(SagaReader, Protocol):
    """Saga instances inside a transaction."""

    async def put(self, records: Sequence[SagaRecord]) -> None:
        """Write each record: inserted when its ``version`` is 1, else updated from
        ``version - 1``.

        Raises SagaConflictError (naming the saga and correlation ids) if an instance is not
        at the version before, or was created meanwhile; the transaction must then roll back.
        """
        ...
