"""The relay and consumers a service process runs when a bus is configured."""

from __future__ import annotations

from collections.abc import Sequence

from eskit.messaging import Bus, Topology
from eskit.messaging.background import MessagingTasks
from eskit.messaging.consumer import Consumer
from eskit.messaging.relay import Relay
from eskit.messaging.urls import open_bus
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions

__all__ = ["bus_for", "messaging_tasks", "topology_of"]


def topology_of(settings: EskitSettings) -> Topology:
    """Topic and subject names from ``ESKIT_BUS_PREFIX`` and ``ESKIT_BUS_SINGLE_TOPIC``."""
    return Topology(prefix=settings.bus_prefix, single_topic=settings.bus_single_topic)


def bus_for(settings: EskitSettings) -> Bus:
    """The bus ``ESKIT_BUS_URL`` names, under the settings' topology."""
    return open_bus(settings.bus_url, topology_of(settings))


def messaging_tasks(
    store: EventStoreBackend,
    settings: EskitSettings,
    consumers: Sequence[Consumer],
    *,
    relay: bool = True,
    bus_required: bool = False,
) -> MessagingTasks | None:
    """The relay (if ``relay``) and ``consumers`` on the bus of ``ESKIT_BUS_URL``.

    None when no bus URL is set: the in-process bus would reach nobody outside this
    process, and in-process consumers are better served by projections. Unless
    ``bus_required`` (a service whose own parts talk over the bus): then they run on the
    in-process bus, within this process.
    """
    if not settings.bus_url and not (bus_required and consumers):
        return None
    db = require_transactions(store, "the relay and consumers (checkpoint, inbox)")
    bus = bus_for(settings)
    return MessagingTasks(
        db,
        bus,
        relay=Relay(db, bus, stream_types=settings.relay_stream_types or None) if relay else None,
        consumers=consumers,
        lease_ttl_s=settings.lease_ttl_s,
        lease_retry_s=settings.lease_retry_s,
    )
