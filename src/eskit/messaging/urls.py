"""A bus from its URL (``ESKIT_BUS_URL``): the one place that picks a bus adapter."""

from __future__ import annotations

from urllib.parse import urlsplit

from eskit.errors import ConfigurationError
from eskit.messaging.inprocess import InProcessBus
from eskit.messaging.port import Bus
from eskit.messaging.topology import Topology

__all__ = ["open_bus"]


def open_bus(url: str, topology: Topology | None = None) -> Bus:
    """The bus ``url`` names.

    ``""`` or ``inprocess://``: the in-process bus; ``kafka://host:port[,host:port...]``: a
    Kafka cluster (aiokafka, the ``kafka`` extra); ``nats://host:port``: NATS JetStream
    (nats-py, the ``nats`` extra). Anything else raises ConfigurationError naming it.
    """
    scheme = urlsplit(url).scheme if url else "inprocess"
    if scheme == "inprocess":
        return InProcessBus(topology)
    if scheme == "kafka":
        servers = url.split("://", 1)[1].rstrip("/")
        if not servers:
            raise ConfigurationError(f"ESKIT_BUS_URL={url!r}: name at least one host:port")
        from eskit.messaging.kafka_bus import KafkaBus  # only where Kafka is configured

        return KafkaBus(servers, topology)
    if scheme in ("nats", "tls"):
        from eskit.messaging.nats_bus import JetStreamBus  # only where NATS is configured

        return JetStreamBus(url, topology)
    raise ConfigurationError(
        f"ESKIT_BUS_URL={url!r}: expected kafka://host:port, nats://host:port or inprocess://"
    )
