"""The eskit command, run in-process against real stores."""

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eskit.cli.main import app
from eskit.store import open_store
from eskit.testing.postgres import PostgresServer
from tests.wallets.domain import Deposit, OpenWallet, build_handler

pytestmark = pytest.mark.e2e
runner = CliRunner()


@pytest.fixture
def empty_postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    with postgres_server.database(migrated=False) as url:
        yield url


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output


def test_migrate_creates_the_postgres_schema_once(empty_postgres_url: str) -> None:
    code, out = invoke("migrate", "--database-url", empty_postgres_url)
    assert code == 0, out
    assert "applied 0001_events_and_snapshots" in out
    code, out = invoke("migrate", "--database-url", empty_postgres_url)
    assert (code, "up to date" in out) == (0, True)


async def _wallets(url: str, count: int) -> None:
    async with open_store(url) as store:
        handler = build_handler(store)
        for n in range(count):
            opened = await handler.handle(OpenWallet(owner=f"Owner {n}"))
            await handler.handle(
                Deposit(aggregate_id=opened.aggregate_id, amount=5, payment_id="p")
            )


def test_streams_list_and_show_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/wallets.db"
    asyncio.run(_wallets(url, 3))
    code, out = invoke("streams", "list", "--database-url", url)
    assert code == 0, out
    assert "3 stream(s)" in out
    stream_id = re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", out)[0]
    code, out = invoke("streams", "show", stream_id, "--database-url", url, "--metadata")
    assert code == 0, out
    assert "wallets.WalletOpened v1" in out
    assert "wallets.Deposited v1" in out
    assert "causation_id" in out


def test_the_horizon_of_a_postgres_store_with_nothing_held_back(postgres_url: str) -> None:
    asyncio.run(_wallets(postgres_url, 2))
    code, out = invoke("store", "horizon", "--database-url", postgres_url)
    assert code == 0, out
    assert "held back: 0" in out


def test_showing_a_missing_stream_fails(tmp_path: Path) -> None:
    code, out = invoke("streams", "show", "nope", "--database-url", f"sqlite:///{tmp_path}/x.db")
    assert code == 1
    assert "not found" in out


def test_an_unusable_database_url_is_reported_not_raised() -> None:
    code, out = invoke("migrate", "--database-url", "mysql://nowhere/db")
    assert code == 1
    assert "unsupported database URL" in out
