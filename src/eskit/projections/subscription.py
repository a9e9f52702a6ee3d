"""Subscriptions: named readers of the log with a checkpoint, for effects outside the database.

A projection's writes commit with its checkpoint; a subscription's handler does something
the database cannot roll back (publish to a broker, send an e-mail), so it is delivered *at
least once*: the handler gets a batch, and only after it returns does the checkpoint move. A
crash in between delivers the batch again; handlers deduplicate by event id. Run them with
a :class:`~eskit.projections.ProjectionRunner` like projections: the same wake-ups, retries,
status and ``wait_for``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from eskit.projections.failure import FailurePolicy
from eskit.projections.readmodel import ReadModel, check_identifier
from eskit.store.records import StoredEvent

__all__ = ["Subscription"]

BatchHandler = Callable[[Sequence[StoredEvent]], Awaitable[None]]


@dataclass(frozen=True)
class Subscription:
    """``handler`` gets each batch of events after the checkpoint named ``name``.

    ``event_types`` / ``stream_types`` (stored type names) limit what it reads; None reads all.
    ``on_failure`` says what happens when the handler keeps failing (default: stop). While
    retrying, events are delivered one at a time, so the event a ``park`` policy parks is the
    one the handler refuses.
    """

    name: str
    handler: BatchHandler
    event_types: Sequence[str] | None = None
    stream_types: Sequence[str] | None = None
    on_failure: FailurePolicy = field(default_factory=FailurePolicy.stop)
    read_models: Sequence[ReadModel] = field(default=(), init=False)

    def __post_init__(self) -> None:
        check_identifier(self.name)
