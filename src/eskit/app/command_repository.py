"""What command handling needs of a repository, as a port.

:class:`~eskit.app.CommandHandler` loads, decides and saves through it. The event-store
:class:`~eskit.app.Repository` implements it; so can a repository that keeps its aggregates
elsewhere (in memory, restored from a Kafka topic, say), without pretending to be a store.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from typing import Any, Protocol, TypeVar

from eskit.domain.aggregate import Aggregate
from eskit.domain.registry import EventRegistry
from eskit.store.records import AppendResult, CommandOutcome, ExpectedVersion

__all__ = ["CommandRepository"]

A = TypeVar("A", bound=Aggregate)


class CommandRepository(Protocol[A]):
    """Loads and saves the aggregates of one type for command handling.

    ``save`` appends the pending events with a version check and raises ConcurrencyError
    on a conflict; event ids it has stored already make it answer the first append with
    ``deduplicated=True`` instead of writing again. ``earlier_outcome`` finds what a command
    id did before (by the ids its events were given, see ``eskit.domain.ids.derive_uuid7``,
    or by an outcome kept with ``keep_outcome``), so a retried command is answered, not
    applied twice.
    """

    @property
    def aggregate_type(self) -> type[A]:
        """The aggregate class this repository loads and saves."""
        ...

    @property
    def registry(self) -> EventRegistry:
        """The events this repository decodes."""
        ...

    async def load(self, aggregate_id: str) -> A:
        """The aggregate as stored now; raises NotFoundError if it has no event."""
        ...

    async def exists(self, aggregate_id: str) -> bool:
        """Whether the aggregate has any event."""
        ...

    async def catch_up(self, aggregate: A) -> A:
        """``aggregate`` (without pending events) brought up to the stored version."""
        ...

    async def save(
        self,
        aggregate: A,
        *,
        metadata: Mapping[str, Any] | None = None,
        event_ids: Sequence[uuid.UUID] | None = None,
        expected_version: ExpectedVersion | None = None,
    ) -> AppendResult:
        """Append the aggregate's pending events; raises ConcurrencyError on a conflict."""
        ...

    async def earlier_outcome(self, command_id: uuid.UUID) -> CommandOutcome | None:
        """What an earlier handling of ``command_id`` did (its last event's version and
        position), or None if it was not handled before."""
        ...

    async def keep_outcome(self, outcome: CommandOutcome) -> CommandOutcome:
        """Keep the outcome of a command that recorded no event; answers the one kept
        first if another handling of the same command id kept one already."""
        ...
