"""The pure domain layer: events, aggregates, commands, the event registry, upcasters.

Nothing here does I/O or imports the rest of eskit except the error tree.
"""

from eskit.domain.aggregate import Aggregate, applies
from eskit.domain.commands import Command
from eskit.domain.events import Event
from eskit.domain.ids import derive_uuid7, new_id, uuid7
from eskit.domain.registry import EventRegistry
from eskit.domain.upcasting import Upcaster

__all__ = [
    "Aggregate",
    "Command",
    "Event",
    "EventRegistry",
    "Upcaster",
    "applies",
    "derive_uuid7",
    "new_id",
    "uuid7",
]
