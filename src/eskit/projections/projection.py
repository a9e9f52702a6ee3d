"""Projections: one handler per event type, folding the log into read models.

::

    class AccountsById(Projection):
        name = "accounts_by_id"
        read_models = (ACCOUNTS,)

        @handles(AccountOpened)
        async def opened(self, event: AccountOpened, ctx: ProjectionContext) -> None:
            await ctx.writer(ACCOUNTS).put(ctx.record.stream_id, {"owner": event.owner})

A projection only sees the event types it handles (its subscription filters the rest out);
an event it handles but cannot decode stops it there, as any failing handler does.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, Protocol, TypeVar

from eskit.domain.events import Event
from eskit.domain.registry import Decoder, EventRegistry
from eskit.errors import EskitError
from eskit.projections.failure import FailurePolicy
from eskit.projections.readmodel import ReadModel, check_identifier
from eskit.store.records import StoredEvent
from eskit.store.unit_of_work import UnitOfWork

__all__ = ["Bindable", "HandlerFailedError", "Projection", "ProjectionContext", "handles"]

E = TypeVar("E", bound=Event)
W = TypeVar("W", covariant=True)
Handler = Callable[[Any, Any, "ProjectionContext"], Awaitable[None]]
_MARK = "__eskit_handles__"


class HandlerFailedError(EskitError):
    """A handler raised while handling ``record`` (the ``index``-th event of its batch)."""

    code = "handler_failed"

    def __init__(self, index: int, record: StoredEvent, cause: BaseException) -> None:
        super().__init__(
            f"{type(cause).__name__}: {cause} (event {record.event_type} at position "
            f"{record.position}, stream {record.stream_id} version {record.version})"
        )
        self.index = index
        self.record = record
        self.cause = cause


class Bindable(Protocol[W]):
    """A read model definition whose writer has type ``W``."""

    name: str

    def bind(self, tx: UnitOfWork, base: str) -> W:
        """The writer on ``base`` in the unit of work ``tx``."""
        ...


def handles(
    event_type: type[E],
) -> Callable[
    [Callable[[Any, E, ProjectionContext], Awaitable[None]]],
    Callable[[Any, E, ProjectionContext], Awaitable[None]],
]:
    """Mark an ``async`` method as the projection's handler of ``event_type``."""

    def mark(
        fn: Callable[[Any, E, ProjectionContext], Awaitable[None]],
    ) -> Callable[[Any, E, ProjectionContext], Awaitable[None]]:
        setattr(fn, _MARK, event_type)
        return fn

    return mark


class ProjectionContext:
    """What a handler gets besides its event: the stored record, the read-model writers,
    and the unit of work they write in (``tx``: checkpoints, plain SQL, appends)."""

    def __init__(self, tx: UnitOfWork, tables: dict[str, str] | None = None) -> None:
        self.tx = tx
        self.record: StoredEvent | None = None
        """The stored event being handled (position, stream, version, metadata, time)."""
        self._tables = tables or {}
        self._writers: dict[str, Any] = {}

    @property
    def event(self) -> StoredEvent:
        """The stored event being handled."""
        assert self.record is not None, "no event is being handled"
        return self.record

    def writer(self, model: Bindable[W]) -> W:
        """The writer of ``model`` for this transaction (the same one for the whole batch)."""
        writer = self._writers.get(model.name)
        if writer is None:
            base = self._tables.get(model.name, model.name)
            writer = self._writers[model.name] = model.bind(self.tx, base)
        return writer

    async def flush(self) -> None:
        """Write what every writer buffered."""
        for writer in self._writers.values():
            await writer.flush()


class Projection:
    """Base class of projections. Subclasses set ``name`` and ``read_models``.

    ``stream_types`` limits the subscription to some streams (None: all). ``on_failure``
    says what happens when a handler keeps failing on an event (see
    :class:`~eskit.projections.failure.FailurePolicy`; default: stop there). Override
    :meth:`prefetch` to load what a batch's handlers will read in one query.
    """

    name: ClassVar[str]
    read_models: ClassVar[Sequence[ReadModel]] = ()
    stream_types: ClassVar[Sequence[str] | None] = None
    on_failure: ClassVar[FailurePolicy] = FailurePolicy.stop()
    rebuildable: ClassVar[bool] = True
    """False for what must not run its history again (a saga would issue its commands twice)."""
    _handlers: ClassVar[dict[str, str]] = {}
    _classes: ClassVar[list[type[Event]]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        handlers: dict[str, str] = {}
        classes: list[type[Event]] = []
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                event_cls = getattr(value, _MARK, None)
                if event_cls is None:
                    continue
                if event_cls.event_type in handlers and klass is cls:
                    other = handlers[event_cls.event_type]
                    if other != attr:
                        raise TypeError(
                            f"{cls.__name__} handles {event_cls.event_type} twice: "
                            f"{other} and {attr}"
                        )
                handlers[event_cls.event_type] = attr
                classes.append(event_cls)
        cls._handlers = handlers
        cls._classes = list(dict.fromkeys(classes))
        if "name" in vars(cls):
            check_identifier(cls.name)

    def __init__(self, registry: EventRegistry | None = None) -> None:
        self.registry = registry or EventRegistry(self._classes)
        for event_cls in self._classes:
            if event_cls.event_type not in self.registry:
                self.registry.register(event_cls)
        # bound once: looking a method up per event costs more than the handler itself
        self._bound: dict[str, Callable[[Any, ProjectionContext], Awaitable[None]]] = {
            event_type: getattr(self, method) for event_type, method in self._handlers.items()
        }

    @property
    def event_types(self) -> list[str]:
        """The stored type names this projection reads (aliases of old names included)."""
        names: list[str] = []
        for event_type in self._handlers:
            names += self.registry.stored_names(event_type)
        return names

    def after_commit(self) -> None:
        """Called after each batch this projection handled has committed (optional): tell
        others what the batch made (a saga's queued commands, for one)."""

    async def prefetch(self, ctx: ProjectionContext, events: Sequence[StoredEvent]) -> None:
        """Load what handling ``events`` will read, before handling them (optional)."""

    async def handle(self, ctx: ProjectionContext, record: StoredEvent) -> None:
        """Decode ``record`` and run its handler."""
        # the stored JSON goes to the event's validator as it was read: parsed once
        event = self.registry.decode(
            record.event_type, record.schema_version, record.raw_data, position=record.position
        )
        handler = self._bound.get(event.event_type)
        if handler is None:
            return
        ctx.record = record
        await handler(event, ctx)

    async def handle_decoded(self, event: Event, ctx: ProjectionContext) -> None:
        """Run the handler of ``event``, already decoded from ``ctx.record`` (a consumer
        decoded it to route it)."""
        handler = self._bound.get(event.event_type)
        if handler is not None:
            await handler(event, ctx)

    async def handle_each(self, ctx: ProjectionContext, records: Sequence[StoredEvent]) -> None:
        """Handle ``records`` in order, as :meth:`handle` does each.

        Raises HandlerFailedError naming the record (and its index) whose decoding or
        handler raised; the records before it were handled.
        """
        # the loop of every batch: decoders and handlers are looked up once per type
        decoders: dict[tuple[str, int], Decoder] = {}
        bound = self._bound
        decoder = self.registry.decoder
        for index, record in enumerate(records):
            try:
                key = (record.event_type, record.schema_version)
                decode = decoders.get(key)
                if decode is None:
                    decode = decoders[key] = decoder(*key)
                event = decode(record.raw_data, record.position)
                handler = bound.get(event.event_type)
                if handler is not None:
                    ctx.record = record
                    await handler(event, ctx)
            except Exception as exc:
                raise HandlerFailedError(index, record, exc) from exc

    async def handle_batch(self, ctx: ProjectionContext, records: Sequence[StoredEvent]) -> None:
        """Prefetch, handle each record in order, and flush the writers."""
        await self.prefetch(ctx, records)
        for record in records:
            await self.handle(ctx, record)
        await ctx.flush()
