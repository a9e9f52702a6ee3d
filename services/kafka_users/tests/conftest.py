"""Fixtures of the service's tests: a real Kafka-protocol broker (Tansu) for the run, and
the service on it under a topic prefix of each test's own, with an HTTP client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from eskit.messaging import Topology
from eskit.testing.brokers import KafkaBroker
from kafka_users.service import KafkaUsers

pytest_plugins = ["eskit.testing.bus_fixtures"]


@pytest.fixture
async def service(kafka_broker: KafkaBroker) -> AsyncIterator[KafkaUsers]:
    """The service on the run's broker, its topics under a prefix of its own."""
    users = KafkaUsers(
        kafka_broker.bootstrap_servers,
        topology=Topology(prefix=f"u{uuid.uuid4().hex[:10]}"),
        idempotent=False,  # Tansu has no idempotent producer
        max_body_bytes=4096,
    )
    async with users:
        yield users


@pytest.fixture
async def client(service: KafkaUsers) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the service's app, in process."""
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://users") as http:
        yield http
