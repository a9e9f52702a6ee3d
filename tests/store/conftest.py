"""Fixtures of the store tests beyond eskit's own plugins."""

from collections.abc import AsyncIterator

import nats
import pytest
from nats.js.client import JetStreamContext

from eskit.testing.brokers import NatsServer


@pytest.fixture
async def js(nats_server: NatsServer) -> AsyncIterator[JetStreamContext]:
    """A plain JetStream client on the run's server, publishing what eskit would not."""
    client = await nats.connect(nats_server.url)
    try:
        yield client.jetstream()
    finally:
        await client.close()
