"""Messaging: the event store as outbox, a bus port, and its adapters.

The bus carries events out of the store to other processes and services. ``Bus`` is the
port (``eskit.messaging.port``); ``InProcessBus`` is the default adapter, for tests and
one-process applications; ``eskit.messaging.kafka`` and ``eskit.messaging.nats`` reach real
brokers and are imported only where they are configured, so their client libraries stay
optional.
"""

from eskit.messaging.errors import BusUnavailableError, MessageDecodingError
from eskit.messaging.inprocess import InProcessBus
from eskit.messaging.message import Delivery, OutgoingMessage
from eskit.messaging.port import Bus, BusConsumer
from eskit.messaging.topology import Topology

__all__ = [
    "Bus",
    "BusConsumer",
    "BusUnavailableError",
    "Delivery",
    "InProcessBus",
    "MessageDecodingError",
    "OutgoingMessage",
    "Topology",
]
