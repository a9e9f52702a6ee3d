"""The event registry: stored type names to event classes, and back."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeAlias

import orjson
from pydantic import ValidationError

from eskit.domain.events import Event
from eskit.domain.upcasting import Upcaster, Upcasters
from eskit.errors import EventSchemaError, UnknownEventTypeError

__all__ = ["Decoder", "EventRegistry"]

StoredData: TypeAlias = dict[str, Any] | str | bytes
Decoder: TypeAlias = Callable[[StoredData, "int | None"], Event]
"""Turns the stored data of one type and schema version into its event (see
:meth:`EventRegistry.decoder`); the second argument is the position, for errors."""


class EventRegistry:
    """Knows every event class of an application by its stored ``event_type``.

    Decoding is strict: an unknown type raises UnknownEventTypeError naming the type and
    the global position, and data that does not fit the class raises EventSchemaError.
    Nothing is ever skipped silently.
    """

    def __init__(self, events: Iterable[type[Event]] = ()) -> None:
        self._classes: dict[str, type[Event]] = {}
        self._aliases: dict[str, str] = {}
        self._upcasters = Upcasters()
        self._decoders: dict[tuple[str, int], Decoder] = {}
        self.register(*events)

    def register(self, *events: type[Event]) -> None:
        """Add event classes; registering another class under a taken type name raises."""
        for cls in events:
            known = self._classes.get(cls.event_type)
            if known is not None and known is not cls:
                raise ValueError(
                    f"event type {cls.event_type!r} is already registered to {known.__qualname__}"
                )
            self._classes[cls.event_type] = cls
        self._decoders.clear()

    def alias(self, old_type: str, new_type: str) -> None:
        """Read events stored as ``old_type`` as ``new_type`` (a renamed event class)."""
        self._aliases[old_type] = new_type
        self._decoders.clear()

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Decorator registering a function that lifts ``event_type`` data by one version."""

        def register(fn: Upcaster) -> Upcaster:
            self.add_upcaster(event_type, from_version, fn)
            return fn

        return register

    def add_upcaster(self, event_type: str, from_version: int, fn: Upcaster) -> None:
        """Register ``fn`` to lift ``event_type`` data from ``from_version`` by one."""
        self._upcasters.add(event_type, from_version, fn)
        self._decoders.clear()

    def __contains__(self, event_type: object) -> bool:
        return event_type in self._classes or event_type in self._aliases

    @property
    def event_types(self) -> list[str]:
        """Every registered type name."""
        return sorted(self._classes)

    def stored_names(self, event_type: str) -> list[str]:
        """``event_type`` and every old name that is read as it (its aliases)."""
        return [event_type, *(old for old, new in self._aliases.items() if new == event_type)]

    def class_for(self, event_type: str, *, position: int | None = None) -> type[Event]:
        """Return the class stored under ``event_type``; raises UnknownEventTypeError."""
        cls = self._classes.get(self._aliases.get(event_type, event_type))
        if cls is None:
            raise UnknownEventTypeError(event_type, position)
        return cls

    def decoder(self, event_type: str, schema_version: int) -> Decoder:
        """A function decoding data stored as ``event_type`` at ``schema_version``.

        The same as :meth:`decode`, looked up once per type and version: readers of many
        events of few types (a projection's batch) decode each with one call.
        """
        key = (event_type, schema_version)
        found = self._decoders.get(key)
        if found is None:
            found = self._decoders[key] = self._make_decoder(event_type, schema_version)
        return found

    def _make_decoder(self, event_type: str, schema_version: int) -> Decoder:
        cls = self._classes.get(event_type)
        if cls is None or schema_version != cls.schema_version:

            def lift_and_decode(data: StoredData, position: int | None) -> Event:
                return self.decode(event_type, schema_version, data, position=position)

            return lift_and_decode
        validate_python = cls.__pydantic_validator__.validate_python
        validate_json = cls.__pydantic_validator__.validate_json

        def validate(data: StoredData, position: int | None) -> Event:
            try:
                if isinstance(data, dict):
                    event: Event = validate_python(data)
                else:
                    event = validate_json(data)
            except ValidationError as exc:
                raise _schema_error(event_type, exc, position) from exc
            return event

        return validate

    def decode(
        self,
        event_type: str,
        schema_version: int,
        data: dict[str, Any] | str | bytes,
        *,
        position: int | None = None,
    ) -> Event:
        """Build the domain event from stored data (a dict or JSON text).

        Older schema versions are upcast first. Raises UnknownEventTypeError or
        EventSchemaError, naming the type and the position.
        """
        cls = self._classes.get(event_type)
        if cls is not None and schema_version == cls.schema_version:
            # the hot path of every load: the validator itself, parsing JSON as it checks
            validator = cls.__pydantic_validator__
            try:
                if isinstance(data, dict):
                    event: Event = validator.validate_python(data)
                else:
                    event = validator.validate_json(data)
            except ValidationError as exc:
                raise _schema_error(event_type, exc, position) from exc
            return event
        if not isinstance(data, dict):
            data = _parse(data, event_type, position)
        cls = self.class_for(event_type, position=position)
        if schema_version != cls.schema_version:
            data = self._upcasters.lift(
                event_type,
                data,
                from_version=schema_version,
                to_version=cls.schema_version,
                position=position,
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise _schema_error(event_type, exc, position) from exc


def _parse(data: str | bytes, event_type: str, position: int | None) -> dict[str, Any]:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise EventSchemaError(event_type, f"stored data is not JSON: {exc}", position) from exc
    if not isinstance(parsed, dict):
        raise EventSchemaError(event_type, "stored data is not a JSON object", position)
    return parsed


def _schema_error(event_type: str, exc: ValidationError, position: int | None) -> EventSchemaError:
    fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
    return EventSchemaError(event_type, f"stored data does not fit: {fields}", position)
