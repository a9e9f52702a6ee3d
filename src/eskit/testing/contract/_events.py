"""The events the contract stores, and short ways to build them."""

from __future__ import annotations

from typing import Any

from eskit.domain.events import Event
from eskit.store import NewEvent


class ItemAdded(Event):
    item: str
    qty: int = 1


class ItemRemoved(Event):
    item: str


class PriceChanged(Event):
    event_type = "catalog.price_changed"
    schema_version = 3

    sku: str
    price: dict[str, Any]
    tags: list[str]


class Ticked(Event):
    writer: int
    seq: int


def added(item: str = "apple", qty: int = 1) -> ItemAdded:
    return ItemAdded(item=item, qty=qty)


def new(item: str = "apple", qty: int = 1, **metadata: Any) -> NewEvent:
    return NewEvent(added(item, qty), metadata=metadata)


def tick(writer: int, seq: int) -> NewEvent:
    return NewEvent(Ticked(writer=writer, seq=seq))
