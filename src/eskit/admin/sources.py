"""What the console reads and acts on in a running service."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field

from eskit.domain.aggregate import Aggregate
from eskit.messaging.background import MessagingTasks
from eskit.messaging.consumer import Consumer
from eskit.projections import Projection, ProjectionStatus, Subscription
from eskit.store import EventStoreBackend

__all__ = ["ConsoleSources"]


def _no_statuses() -> Awaitable[Sequence[ProjectionStatus]]:
    async def none() -> Sequence[ProjectionStatus]:
        return ()

    return none()


@dataclass(frozen=True)
class ConsoleSources:
    """The service's parts as the console sees them.

    ``statuses`` gives every projection's (and process's) state, as ``/health/ready`` does;
    ``messaging`` the relay and consumers this process runs, if any (asked each time:
    they start after the app is made); ``aggregates`` the aggregate class of each stream
    type, for a stream's state as of a version.
    """

    store: EventStoreBackend
    projections: Sequence[Projection | Subscription] = ()
    processes: Sequence[Projection | Subscription] = ()
    consumers: Sequence[Consumer] = ()
    aggregates: Mapping[str, type[Aggregate]] = field(default_factory=dict)
    statuses: Callable[[], Awaitable[Sequence[ProjectionStatus]]] = _no_statuses
    messaging: Callable[[], MessagingTasks | None] = lambda: None

    def projection(self, name: str) -> Projection | Subscription | None:
        """The projection or process called ``name``, if the service has one."""
        return next((p for p in (*self.projections, *self.processes) if p.name == name), None)

    def kind(self, name: str) -> str:
        """``projection``, ``process`` (a saga or reactor) or ``other`` (a stored checkpoint
        of something this service does not run)."""
        if any(p.name == name for p in self.projections):
            return "projection"
        if any(p.name == name for p in self.processes):
            return "process"
        return "other"
