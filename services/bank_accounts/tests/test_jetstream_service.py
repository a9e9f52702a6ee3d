"""The bank service with its events in NATS JetStream and its read models in SQLite.

A real nats-server with JetStream (the ``nats_server`` fixture), a JetStream store of each
test's own (dropped after), and the read-model database in the test's directory.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from bank_accounts.service import service
from bank_accounts.tests.support import ACCOUNTS, account_body, deposit, http_client, withdraw
from bank_accounts.tests.test_serving import free_port, wait_ready
from eskit.errors import ConfigurationError
from eskit.serving import ServiceRuntime, serve
from eskit.settings import EskitSettings
from eskit.store import SplitStore, open_store
from eskit.testing.brokers import NatsServer
from eskit.testing.jetstream import drop_jetstream_store, fresh_store_name

pytestmark = pytest.mark.e2e


@pytest.fixture
def store_url(nats_server: NatsServer) -> Iterator[str]:
    """The URL of a JetStream store of this test's own, dropped after it."""
    name = fresh_store_name()
    yield f"{nats_server.url}/{name}"
    asyncio.run(drop_jetstream_store(nats_server.url, name))


@asynccontextmanager
async def bank(
    store_url: str, read_models: Path, **overrides: Any
) -> AsyncIterator[httpx.AsyncClient]:
    """The service over ``store_url`` and the SQLite file ``read_models``, and a client."""
    settings = EskitSettings(
        database_url=store_url, read_model_url=f"sqlite:///{read_models}", **overrides
    )
    async with (
        open_store(store_url, migrate=None, **settings.store_options()) as store,
        ServiceRuntime(service, store, settings, grpc_address=None, grace_s=2.0) as runtime,
        http_client(runtime) as client,
    ):
        assert isinstance(store, SplitStore)
        yield client


def position(response: httpx.Response) -> str:
    assert response.status_code in (200, 201), response.text
    return response.headers["ESKIT-Position"]


async def test_accounts_are_opened_paid_into_and_read_back(store_url: str, tmp_path: Path) -> None:
    async with bank(store_url, tmp_path / "read.db") as client:
        opened = await client.post(ACCOUNTS, json=account_body(balance=1000))
        account_id = opened.json()["id"]
        await client.post(ACCOUNTS, json=account_body(firstName="Bob", email="bob@example.com"))
        position(await deposit(client, account_id, 250))
        last = position(await withdraw(client, account_id, 100))
        refused = await withdraw(client, account_id, 10_000)

        got = await client.get(f"{ACCOUNTS}/{account_id}", params={"minPosition": last})
        found = await client.get(ACCOUNTS, params={"search": "ann", "minPosition": last})
        history = await client.get(f"{ACCOUNTS}/{account_id}/events")

    assert refused.status_code == 409, refused.text
    assert refused.json()["error"]["code"] == "insufficient_funds"
    assert got.status_code == 200, got.text
    assert got.json()["balance"] == {"amount": 1150, "currency": "USD"}
    assert got.json()["version"] == 3
    assert [item["id"] for item in found.json()["items"]] == [account_id]
    assert found.json()["items"][0]["balance"]["amount"] == 1150
    assert [e["type"] for e in history.json()] == [
        "bank_accounts.AccountOpened",
        "bank_accounts.MoneyDeposited",
        "bank_accounts.MoneyWithdrawn",
    ]


async def test_a_restarted_service_keeps_its_accounts_and_read_models(
    store_url: str, tmp_path: Path
) -> None:
    async with bank(store_url, tmp_path / "read.db") as client:
        opened = await client.post(ACCOUNTS, json=account_body(balance=500))
        account_id = opened.json()["id"]
        first = position(await deposit(client, account_id, 5))
        caught_up = await client.get(f"{ACCOUNTS}/{account_id}", params={"minPosition": first})
        assert caught_up.json()["balance"]["amount"] == 505

    async with bank(store_url, tmp_path / "read.db") as client:
        kept = await client.get(f"{ACCOUNTS}/{account_id}")
        again = position(await deposit(client, account_id, 7))
        got = await client.get(f"{ACCOUNTS}/{account_id}", params={"minPosition": again})
        found = await client.get(ACCOUNTS, params={"search": "lee", "minPosition": again})

    assert kept.json()["balance"]["amount"] == 505
    assert got.json()["balance"]["amount"] == 512
    assert got.json()["version"] == 3
    assert [(i["id"], i["balance"]["amount"]) for i in found.json()["items"]] == [(account_id, 512)]


async def test_the_relay_publishes_from_jetstream_and_the_activity_consumer_fills_its_feed(
    store_url: str, tmp_path: Path, nats_server: NatsServer
) -> None:
    bus = {"bus_url": nats_server.url, "bus_prefix": f"bank{time.time_ns()}"}
    async with bank(store_url, tmp_path / "read.db", **bus) as client:
        opened = await client.post(ACCOUNTS, json=account_body(balance=1000))
        account_id = opened.json()["id"]
        await deposit(client, account_id, 100, "p1")
        deadline = time.monotonic() + 20
        while (
            answer := await client.get(f"{ACCOUNTS}/{account_id}/activity")
        ).status_code != 200 or len(answer.json()) < 2:
            assert time.monotonic() < deadline, answer.text
            await asyncio.sleep(0.05)

    assert [(i["type"], i["version"]) for i in answer.json()] == [
        ("MoneyDeposited", 2),
        ("AccountOpened", 1),
    ]


async def test_the_console_shows_an_account_and_lists_the_log_newest_first(
    store_url: str, tmp_path: Path
) -> None:
    async with bank(store_url, tmp_path / "read.db") as client:
        opened = await client.post(ACCOUNTS, json=account_body(firstName="Zoe"))
        stream = await client.get("/admin/stream", params={"id": opened.json()["id"]})
        log = await client.get("/admin/log")

    assert stream.status_code == 200
    assert "bank_accounts.AccountOpened" in stream.text
    assert log.status_code == 200
    assert "This store cannot list its past events" not in log.text
    assert opened.json()["id"] in log.text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (
            {"database_url": "sqlite:///events.db", "read_model_url": "sqlite:///read.db"},
            "read-model URL",
        ),
        ({"read_model_url": "memory://"}, "must be SQLite or PostgreSQL"),
    ],
)
async def test_a_read_model_url_that_cannot_work_stops_the_start(
    overrides: dict[str, str],
    message: str,
    store_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    values: dict[str, Any] = {"database_url": store_url, "port": free_port(), "grpc_port": 0}
    settings = EskitSettings(**{**values, **overrides})
    with pytest.raises(ConfigurationError, match=message):
        await serve(service, settings)
    assert os.listdir(tmp_path) == []  # nothing opened, nothing created


def test_python_m_bank_accounts_on_a_nats_url_keeps_state_over_a_restart(
    store_url: str, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("ESKIT_")},
        "ESKIT_DATABASE_URL": store_url,
        "ESKIT_PORT": str(port),
        "ESKIT_GRPC_PORT": "0",
        "ESKIT_METRICS_PORT": "0",
        "COLUMNS": "300",
    }
    base = f"http://127.0.0.1:{port}"
    name = store_url.rsplit("/", 1)[1]

    def run(work: Any) -> str:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bank_accounts"],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            wait_ready(base, proc)
            work()
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        assert proc.returncode == 0, out
        return out

    account: dict[str, Any] = {}

    def open_and_pay() -> None:
        opened = httpx.post(f"{base}{ACCOUNTS}", json=account_body(balance=1000)).json()
        account["id"] = opened["id"]
        paid = httpx.post(
            f"{base}{ACCOUNTS}/{opened['id']}/deposit", json={"amount": 5, "paymentId": "p"}
        )
        got = httpx.get(f"{base}{ACCOUNTS}/{opened['id']}", params={"minPosition": position(paid)})
        assert got.json()["balance"]["amount"] == 1005

    def read_again() -> None:
        got = httpx.get(f"{base}{ACCOUNTS}/{account['id']}")
        assert got.status_code == 200, got.text
        assert got.json()["balance"]["amount"] == 1005
        assert got.json()["version"] == 2

    out = run(open_and_pay)
    assert f"store {store_url}; read models sqlite:///{name}-read-models.db" in out
    assert (tmp_path / f"{name}-read-models.db").exists()
    run(read_again)
