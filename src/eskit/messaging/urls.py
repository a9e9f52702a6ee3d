"""A bus from its URL (``ESKIT_BUS_URL``): the one place that picks a bus adapter."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit, urlunsplit

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

    Timings go in the query: ``?session_timeout=10`` (seconds a silent Kafka member keeps
    its partitions), ``?ack_wait=30`` (seconds JetStream waits before it gives a silent
    member's message to another), ``?timeout=10`` (seconds a publish may take) on both.
    """
    parts = urlsplit(url)
    scheme = parts.scheme if url else "inprocess"
    options = _options(url, parts.query, _OPTIONS.get(scheme, set()))
    if scheme == "inprocess":
        return InProcessBus(topology)
    if scheme == "kafka":
        servers = parts.netloc
        if not servers:
            raise ConfigurationError(f"ESKIT_BUS_URL={url!r}: name at least one host:port")
        from eskit.messaging.kafka_bus import KafkaBus  # only where Kafka is configured

        return KafkaBus(
            servers,
            topology,
            timeout_s=options.get("timeout", 10.0),
            session_timeout_s=options.get("session_timeout", 10.0),
        )
    if scheme in ("nats", "tls"):
        from eskit.messaging.nats_bus import JetStreamBus  # only where NATS is configured

        return JetStreamBus(
            urlunsplit(parts._replace(query="")),
            topology,
            timeout_s=options.get("timeout", 10.0),
            ack_wait_s=options.get("ack_wait", 30.0),
        )
    raise ConfigurationError(
        f"ESKIT_BUS_URL={url!r}: expected kafka://host:port, nats://host:port or inprocess://"
    )


_OPTIONS = {
    "inprocess": set(),
    "kafka": {"timeout", "session_timeout"},
    "nats": {"timeout", "ack_wait"},
    "tls": {"timeout", "ack_wait"},
}


def _options(url: str, query: str, known: set[str]) -> dict[str, float]:
    """The URL's timings in seconds; ConfigurationError naming one unknown or not a number."""
    options: dict[str, float] = {}
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name not in known:
            expected = ", ".join(sorted(known)) or "none"
            raise ConfigurationError(
                f"ESKIT_BUS_URL={url!r}: unknown option {name!r} (expected: {expected})"
            )
        try:
            options[name] = float(value)
        except ValueError:
            raise ConfigurationError(
                f"ESKIT_BUS_URL={url!r}: {name}={value!r} is not a number of seconds"
            ) from None
        if options[name] <= 0:
            raise ConfigurationError(f"ESKIT_BUS_URL={url!r}: {name} must be above 0")
    return options
