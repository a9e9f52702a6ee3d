"""Upcasters: functions that lift a stored event's data one schema version up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eskit.errors import EventSchemaError

__all__ = ["Upcaster", "Upcasters"]

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class Upcasters:
    """Chains of upcasters per event type, each lifting version ``n`` to ``n + 1``."""

    def __init__(self) -> None:
        self._steps: dict[tuple[str, int], Upcaster] = {}

    def add(self, event_type: str, from_version: int, upcaster: Upcaster) -> None:
        """Register ``upcaster`` to lift ``event_type`` from ``from_version`` to the next one."""
        key = (event_type, from_version)
        if key in self._steps:
            raise ValueError(f"an upcaster for {event_type} v{from_version} is already registered")
        self._steps[key] = upcaster

    def lift(
        self,
        event_type: str,
        data: dict[str, Any],
        *,
        from_version: int,
        to_version: int,
        position: int | None = None,
    ) -> dict[str, Any]:
        """Return ``data`` lifted step by step from ``from_version`` to ``to_version``.

        Raises EventSchemaError if a step is missing or the stored version is newer than
        the code (events written by a later release cannot be read safely).
        """
        if from_version > to_version:
            raise EventSchemaError(
                event_type,
                f"stored schema version {from_version} is newer than this code's {to_version}",
                position,
            )
        for version in range(from_version, to_version):
            step = self._steps.get((event_type, version))
            if step is None:
                raise EventSchemaError(
                    event_type, f"no upcaster from schema version {version}", position
                )
            data = step(dict(data))
        return data
