"""The database goes away under the running service: 503, nothing half-written, then back."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from bank_accounts.service import service
from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store.urls import open_store
from eskit.testing.postgres import PostgresServer

pytestmark = pytest.mark.integration


def allow_connections(server: PostgresServer, database_url: str, allowed: bool) -> None:
    """Open or close the database to new connections; closing also ends the current ones."""
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(server.url, autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS {str(allowed).lower()}')
        if not allowed:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = %s AND pid <> pg_backend_pid()",
                (name,),
            )


async def test_store_down_means_503_and_nothing_written(
    postgres_url: str, postgres_server: PostgresServer
) -> None:
    settings = EskitSettings(run_projections=False)
    async with (
        open_store(postgres_url, reconnect_attempts=0, connect_timeout_s=2) as store,
        ServiceRuntime(service, store, settings, grpc_address=None) as runtime,
    ):
        transport = httpx.ASGITransport(app=runtime.app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://bank.test") as http:
            body = {
                "email": "ann@example.com",
                "address": "1 Main St",
                "firstName": "Ann",
                "lastName": "Lee",
                "balance": 100,
            }
            opened = (await http.post("/api/v1/accounts", json=body)).json()
            deposit = f"/api/v1/accounts/{opened['id']}/deposit"
            allow_connections(postgres_server, postgres_url, allowed=False)
            try:
                refused = await http.post(deposit, json={"amount": 5, "paymentId": "p"})
                assert refused.status_code == 503, refused.text
                assert refused.json()["error"]["code"] == "store_unavailable"
                ready = await http.get("/health/ready")
                assert ready.status_code == 503
                assert (await http.get("/health/live")).status_code == 200
            finally:
                allow_connections(postgres_server, postgres_url, allowed=True)
            assert (await http.get("/health/ready")).status_code == 200
            history = (await http.get(f"/api/v1/accounts/{opened['id']}/events")).json()
            assert [e["version"] for e in history] == [1]  # the refused deposit left nothing
            again = await http.post(deposit, json={"amount": 5, "paymentId": "p"})
            assert again.json() == {"id": opened["id"], "version": 2}
