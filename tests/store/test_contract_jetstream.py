"""The store contract on the NATS JetStream adapter, on a real nats-server with JetStream."""

from contextlib import AbstractAsyncContextManager
from pathlib import Path

import pytest

from eskit.store import EventStoreBackend
from eskit.testing.brokers import NatsServer
from eskit.testing.contract import LogBrowserContract, StoreContract
from eskit.testing.jetstream import fresh_jetstream_store

pytestmark = pytest.mark.integration


class TestJetStreamEventStore(StoreContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        server: NatsServer = request.getfixturevalue("nats_server")
        return fresh_jetstream_store(server.url)


class TestJetStreamLogBrowser(LogBrowserContract):
    def make_store(
        self, request: pytest.FixtureRequest, tmp_path: Path
    ) -> AbstractAsyncContextManager[EventStoreBackend]:
        server: NatsServer = request.getfixturevalue("nats_server")
        return fresh_jetstream_store(server.url)
