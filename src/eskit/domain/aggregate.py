"""Aggregates: consistency boundaries whose state changes only by applying events."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, ClassVar, Self, TypeVar

from pydantic import BaseModel, ConfigDict, PrivateAttr

from eskit.domain.events import Event

__all__ = ["Aggregate", "applies"]

E = TypeVar("E", bound=Event)
_HANDLER_MARK = "__eskit_applies__"


def applies(
    event_type: type[E],
) -> Callable[[Callable[[Any, E], None]], Callable[[Any, E], None]]:
    """Mark a method as the one handler that folds ``event_type`` into the aggregate's state."""

    def mark(fn: Callable[[Any, E], None]) -> Callable[[Any, E], None]:
        setattr(fn, _HANDLER_MARK, event_type)
        return fn

    return mark


class Aggregate(BaseModel):
    """Base of event-sourced aggregates.

    State lives in pydantic fields. Command methods check the rules and call
    :meth:`record` with the events that happen; :meth:`record` applies each one (through
    the single ``@applies`` handler of its type) and keeps it as pending until the
    repository stores it. ``version`` is the number of events applied so far.

    Class settings: ``stream_type`` (the class name unless set), ``snapshot_every`` (store a
    snapshot every N events, None for never) and ``snapshot_schema_version`` (bump it when the
    fields change: older snapshots are then ignored and the state is replayed from events).
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    id: str
    version: int = 0

    stream_type: ClassVar[str] = "Aggregate"
    snapshot_every: ClassVar[int | None] = None
    snapshot_schema_version: ClassVar[int] = 1
    _handlers: ClassVar[dict[type[Event], Callable[[Any, Any], None]]] = {}

    _pending: list[Event] = PrivateAttr(default_factory=list)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if "stream_type" not in cls.__dict__:
            cls.stream_type = cls.__name__
        handlers = dict(cls._handlers)
        own: set[type[Event]] = set()
        for value in cls.__dict__.values():
            event_type = getattr(value, _HANDLER_MARK, None)
            if event_type is None:
                continue
            if event_type in own:
                raise TypeError(f"{cls.__name__} has two handlers for {event_type.__name__}")
            own.add(event_type)
            handlers[event_type] = value
        cls._handlers = handlers

    def __setattr__(self, name: str, value: Any) -> None:
        # State changes only inside event handlers, many thousands of times per load, and
        # is never validated on assignment: write fields straight into the instance.
        if name in type(self).__pydantic_fields__:
            self.__dict__[name] = value
        else:
            super().__setattr__(name, value)

    @classmethod
    def handled_events(cls) -> list[type[Event]]:
        """The event classes this aggregate knows how to apply."""
        return list(cls._handlers)

    def apply(self, event: Event) -> None:
        """Fold one event into the state and advance the version."""
        handler = self._handlers.get(type(event))
        if handler is None:
            raise TypeError(f"{type(self).__name__} has no handler for {type(event).__name__}")
        handler(self, event)
        self.version += 1

    def apply_all(self, events: Iterable[Event]) -> None:
        """Fold a sequence of events, in order."""
        handlers = self._handlers
        state = self.__dict__  # bumps the version without pydantic's __setattr__ per event
        for event in events:
            handler = handlers.get(type(event))
            if handler is None:
                raise TypeError(f"{type(self).__name__} has no handler for {type(event).__name__}")
            handler(self, event)
            state["version"] += 1

    def record(self, *events: Event) -> None:
        """Apply new events and keep them as pending, to be stored by the repository."""
        pending = self._pending_list()
        for event in events:
            self.apply(event)
            pending.append(event)

    def _pending_list(self) -> list[Event]:
        # straight from pydantic's private storage: the attribute fallback that reaches it
        # otherwise is a Python-level __getattr__, on the path of every command
        private = self.__pydantic_private__
        pending: list[Event] = private["_pending"] if private else self._pending
        return pending

    @property
    def pending_events(self) -> tuple[Event, ...]:
        """Events recorded since the aggregate was loaded or last saved."""
        return tuple(self._pending_list())

    @property
    def stored_version(self) -> int:
        """The version the store holds: ``version`` minus the pending events."""
        return self.version - len(self._pending_list())

    def mark_saved(self) -> None:
        """Forget the pending events once the repository has stored them."""
        self._pending_list().clear()

    def snapshot_state(self) -> dict[str, Any]:
        """The state as JSON-ready data, for a snapshot."""
        return self.model_dump(mode="json", exclude={"id", "version"})

    @classmethod
    def from_snapshot(cls, aggregate_id: str, version: int, state: dict[str, Any]) -> Self:
        """Rebuild an aggregate from a snapshot taken at ``version``."""
        return cls.model_validate({**state, "id": aggregate_id, "version": version})
