"""A gRPC server refuses a port another one listens on, unless both share it on purpose
(``eskit serve --workers N``: N server processes on one port)."""

from __future__ import annotations

import pytest

from eskit.grpc import create_server
from tests.serving.processes import free_port

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
