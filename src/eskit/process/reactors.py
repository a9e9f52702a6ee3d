"""Reactors: code that runs because an event happened.

A **synchronous** reactor runs inside the transaction that appends the event and may veto
it: raising (a DomainError subclass, say) rolls the whole append back, and the command
that tried answers that error. Hand the store wrapped by :func:`with_reactors` to the
repository or command handler::

    class IssuerMustBeKnown(Reactor):
        name = "issuer_must_be_known"

        @reacts(InvoicePutForSale)
        async def check(self, event: InvoicePutForSale, ctx: ProjectionContext) -> None:
            if not await ctx.tx.read_stream(event.issuer_id, to_version=1):
                raise UnknownIssuerError(event.issuer_id)

An **asynchronous** reactor runs after commit, from its own checkpoint on the log, at least
once, skipping events it already handled (by event id): for effects the database cannot
roll back, such as an e-mail. Replaying an aggregate or rebuilding a projection never runs
it, as neither moves its checkpoint; a rebuild of the reactor itself is refused.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, TypeVar

from eskit.domain.events import Event
from eskit.domain.registry import EventRegistry
from eskit.projections.failure import FailurePolicy
from eskit.projections.inline import InlineProjections
from eskit.projections.projection import HandlerFailedError, Projection, handles
from eskit.projections.subscription import Subscription
from eskit.store.port import EventStoreBackend
from eskit.store.records import StoredEvent
from eskit.store.unit_of_work import TransactionalStore, require_transactions

__all__ = ["AsyncReactor", "Reactor", "reacts", "with_reactors"]

E = TypeVar("E", bound=Event)

F = TypeVar("F", bound=Callable[..., Awaitable[None]])


def reacts(event_type: type[Event]) -> Callable[[F], F]:
    """Mark an ``async`` method as the reaction to ``event_type``: ``(event, ctx)`` in a
    :class:`Reactor`, ``(event, record)`` in an :class:`AsyncReactor`."""

    def mark(fn: F) -> F:
        return handles(event_type)(fn)  # type: ignore[return-value]

    return mark


_MARK = "__eskit_handles__"


class Reactor(Projection):
    """A synchronous reactor: its reactions run inside each append's transaction.

    Subclasses set ``name`` and mark reactions with :func:`reacts`; ``ctx.tx`` is the
    append's unit of work (reads in it see the events being appended).
    """

    rebuildable: ClassVar[bool] = False


def with_reactors(store: EventStoreBackend, reactors: Sequence[Reactor]) -> InlineProjections:
    """``store``, its appends running ``reactors`` inside their transaction (see module).

    Raises ConfigurationError for a store without transactions (the in-memory one), or
    whose events live apart from its rows (a JetStream store beside a read-model database).
    """
    return InlineProjections(store, reactors, needed_by="synchronous reactors")


class AsyncReactor:
    """An asynchronous reactor (see module). Subclasses set ``name`` and mark reactions
    ``async def (self, event, record) -> None`` with :func:`reacts`.

    Run :meth:`subscription` with a :class:`~eskit.projections.ProjectionRunner` (a service
    lists it beside its projections). ``on_failure``: what happens when a reaction keeps
    failing (default: stop there, as a projection does).
    """

    name: ClassVar[str]
    on_failure: ClassVar[FailurePolicy] = FailurePolicy.stop()
    rebuildable: ClassVar[bool] = False

    def __init__(self, registry: EventRegistry | None = None) -> None:
        reactions: dict[str, Callable[[Any, StoredEvent], Awaitable[None]]] = {}
        classes: list[type[Event]] = []
        for klass in reversed(type(self).__mro__):
            for attr, value in vars(klass).items():
                event_cls = getattr(value, _MARK, None)
                if event_cls is not None:
                    reactions[event_cls.event_type] = getattr(self, attr)
                    classes.append(event_cls)
        self.registry = registry or EventRegistry(classes)
        self._reactions = reactions
        self.store: TransactionalStore | None = None

    def subscription(self, store: EventStoreBackend) -> Subscription:
        """The subscription that runs this reactor on ``store``'s log."""
        self.store = require_transactions(store, "asynchronous reactors")
        names: list[str] = []
        for event_type in self._reactions:
            names += self.registry.stored_names(event_type)
        return Subscription(
            self.name, self._handle_batch, event_types=names, on_failure=self.on_failure
        )

    async def _handle_batch(self, records: Sequence[StoredEvent]) -> None:
        store = self.store
        assert store is not None
        ids = [str(r.event_id) for r in records]
        done = await store.committed.inbox.seen(self.name, ids)
        for index, record in enumerate(records):
            event_id = str(record.event_id)
            if event_id in done:
                continue  # handled before a crash kept the checkpoint from moving
            try:
                await self._react(record)
            except Exception as exc:
                raise HandlerFailedError(index, record, exc) from exc
            async with store.transaction() as tx:
                await tx.record_processed(self.name, [event_id])

    async def _react(self, record: StoredEvent) -> None:
        event = self.registry.decode(
            record.event_type, record.schema_version, record.raw_data, position=record.position
        )
        reaction = self._reactions.get(event.event_type)
        if reaction is not None:
            await reaction(event, record)
