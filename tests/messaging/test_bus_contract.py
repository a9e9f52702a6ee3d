"""The bus contract on every adapter: in process, Kafka (Tansu) and NATS JetStream."""

import pytest

from eskit.messaging import Bus, Topology
from eskit.testing.bus_fixtures import make_bus
from eskit.testing.contract.bus import BusContract

pytestmark = pytest.mark.integration


class TestInProcessBus(BusContract):
    def make_bus(self, request: pytest.FixtureRequest, topology: Topology) -> Bus:
        return make_bus("inprocess", request, topology)


class TestKafkaBus(BusContract):
    def make_bus(self, request: pytest.FixtureRequest, topology: Topology) -> Bus:
        return make_bus("kafka", request, topology)


class TestJetStreamBus(BusContract):
    def make_bus(self, request: pytest.FixtureRequest, topology: Topology) -> Bus:
        return make_bus("nats", request, topology)
