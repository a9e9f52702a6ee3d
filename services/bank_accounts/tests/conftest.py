"""Fixtures of the service's tests: eskit's (a real PostgreSQL, a store per backend), and the
service running over the test's store with an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from bank_accounts.service import service
from bank_accounts.tests.support import RuntimeFactory, http_client
from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

pytest_plugins = ["eskit.testing.fixtures", "eskit.testing.bus_fixtures"]


@pytest.fixture
async def make_runtime(sql_store: EventStoreBackend) -> AsyncIterator[RuntimeFactory]:
    """Start the service over the test's store (SQLite or PostgreSQL) with settings overrides.

    gRPC listens on a free loopback port (``runtime.grpc_port``); pass ``grpc=False`` to
    leave it off. Everything started is stopped after the test.
    """
    async with AsyncExitStack() as stack:

        async def start(*, grpc: bool = True, **overrides: Any) -> ServiceRuntime:
            settings = EskitSettings(**{"database_url": "memory://", **overrides})
            runtime = ServiceRuntime(
                service,
                sql_store,
                settings,
                grpc_address="127.0.0.1:0" if grpc else None,
                grace_s=2.0,
            )
            return await stack.enter_async_context(runtime)

        yield start


@pytest.fixture
async def runtime(make_runtime: RuntimeFactory) -> ServiceRuntime:
    """The service with default settings (projections running in-process, gRPC on)."""
    return await make_runtime()


@pytest.fixture
async def client(runtime: ServiceRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the default runtime."""
    async with http_client(runtime) as http:
        yield http
