"""What an operator needs to know of a projection: where it is, how far behind, what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from eskit.store.leases import LeaseInfo

__all__ = ["UNHEALTHY_STATES", "ProjectionStatus"]

UNHEALTHY_STATES = frozenset({"failing", "stalled"})
"""States in which a projection's read model stops following the log."""


@dataclass(frozen=True, slots=True)
class ProjectionStatus:
    """A projection's state.

    ``state`` is one of ``live`` (caught up), ``catching_up``, ``failing`` (a handler
    raises at ``error_position``), ``stalled`` (events wait but nothing moves; see
    ``stalled_reason``). ``lag_events`` counts the events it still has to
    handle, ``lag_seconds`` how old the oldest of them is. ``policy`` is its failure policy
    (``stop`` or ``park after N``) and ``parked`` how many of its events are parked.
    ``lease`` says which process works on it (``lease.state``: ``running_here``,
    ``standby``, ``running_elsewhere``, ``expired``, ``not_running``) with the holder's host,
    pid, since when and its last heartbeat; None where the report does not know.
    """

    name: str
    state: str
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    error: str | None = None
    error_position: int | None = None
    error_count: int = 0
    stalled_reason: str | None = None
    updated_at: datetime | None = None
    policy: str = "stop"
    parked: int = 0
    lease: LeaseInfo | None = None

    @property
    def healthy(self) -> bool:
        """Whether the projection follows the log (it is neither failing nor stalled)."""
        return self.state not in UNHEALTHY_STATES
