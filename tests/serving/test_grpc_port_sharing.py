"""A gRPC server refuses a port another one listens on, unless both share it on purpose
(``eskit serve --workers N``: N server processes on one port); a service's runtime binds
its gRPC port before it starts any projection."""

from __future__ import annotations

import pytest

from eskit.errors import ConfigurationError
from eskit.grpc import create_server
from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions
from tests.serving.processes import free_port
from tests.wallets.service import service

pytestmark = pytest.mark.integration


async def test_a_second_server_cannot_listen_on_a_port_in_use() -> None:
    address = f"127.0.0.1:{free_port()}"
    first = create_server([])
    first.add_insecure_port(address)
    await first.start()
    try:
        second = create_server([])
        with pytest.raises(RuntimeError):
            second.add_insecure_port(address)
    finally:
        await first.stop(None)


async def test_servers_that_share_the_port_listen_together() -> None:
    address = f"127.0.0.1:{free_port()}"
    servers = [create_server([], share_port=True) for _ in range(2)]
    try:
        for server in servers:
            assert server.add_insecure_port(address) == int(address.rsplit(":", 1)[1])
            await server.start()
    finally:
        for server in servers:
            await server.stop(None)


async def test_a_runtime_on_a_held_grpc_port_fails_before_any_projection_runs(
    sql_store: EventStoreBackend,
) -> None:
    held = create_server([])
    port = held.add_insecure_port("127.0.0.1:0")
    await held.start()
    try:
        settings = EskitSettings(database_url="memory://")
        runtime = ServiceRuntime(service, sql_store, settings, grpc_address=f"127.0.0.1:{port}")
        with pytest.raises(ConfigurationError, match=f"127.0.0.1:{port} \\(gRPC\\)"):
            async with runtime:
                pass
        committed = require_transactions(sql_store, "test").committed
        assert not await committed.schema.exists("wallets_by_id")  # no projection started
        assert await committed.checkpoints.all() == {}
    finally:
        await held.stop(None)
