"""The eskit command, run in-process against real stores."""

import asyncio
import json
import re
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import orjson
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


def invoke(*args: str, columns: int = 200) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": str(columns)})
    return result.exit_code, result.output


def _url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path}/wallets.db"
    return str(request.getfixturevalue("postgres_url"))


def _squeezed(text: str) -> str:
    """``text`` without whitespace: what wrapping a line may add or drop does not count."""
    return re.sub(r"\s", "", text)


def test_migrate_creates_the_postgres_schema_once(empty_postgres_url: str) -> None:
    code, out = invoke("migrate", "--database-url", empty_postgres_url)
    assert code == 0, out
    assert "applied 0001_events_and_snapshots" in out
    code, out = invoke("migrate", "--database-url", empty_postgres_url)
    assert (code, "up to date" in out) == (0, True)


async def _wallets(url: str, count: int, *, owner: str = "Owner") -> None:
    async with open_store(url) as store:
        handler = build_handler(store)
        for n in range(count):
            opened = await handler.handle(OpenWallet(owner=f"{owner} {n}"))
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


def _stream_ids(url: str) -> list[str]:
    code, out = invoke("streams", "list", "--database-url", url, "--json")
    assert code == 0, out
    return [orjson.loads(line)["stream_id"] for line in out.splitlines()]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_streams_list_json_prints_one_object_a_line(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _url(backend, tmp_path, request)
    asyncio.run(_wallets(url, 3))
    code, out = invoke("streams", "list", "--database-url", url, "--json")
    assert code == 0, out
    lines = [orjson.loads(line) for line in out.splitlines()]
    assert [s["version"] for s in lines] == [2, 2, 2]
    assert {s["stream_type"] for s in lines} == {"Wallet"}
    first = lines[0]
    assert datetime.fromisoformat(first["created_at"]).tzinfo is not None
    assert first["first_position"] < lines[1]["first_position"]


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_streams_show_json_prints_every_event_in_full(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _url(backend, tmp_path, request)
    asyncio.run(_wallets(url, 1))
    (stream_id,) = _stream_ids(url)
    code, out = invoke("streams", "show", stream_id, "--database-url", url, "--json")
    assert code == 0, out
    opened, deposited = (orjson.loads(line) for line in out.splitlines())
    assert (opened["type"], opened["version"], opened["stream_id"]) == (
        "wallets.WalletOpened",
        1,
        stream_id,
    )
    assert deposited["data"] == {"amount": 5, "payment_id": "p"}
    assert "correlation_id" in deposited["metadata"]
    assert uuid.UUID(deposited["id"]) != uuid.UUID(opened["id"])
    assert opened["position"] < deposited["position"]
    assert datetime.fromisoformat(deposited["recorded_at"]).tzinfo is not None


def test_streams_show_wraps_data_and_metadata_at_80_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/wallets.db"
    asyncio.run(_wallets(url, 1, owner="Someone with a name long enough to need a second line"))
    (stream_id,) = _stream_ids(url)
    code, out = invoke(
        "streams", "show", stream_id, "--database-url", url, "--metadata", columns=80
    )
    assert code == 0, out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    _, full = invoke("streams", "show", stream_id, "--database-url", url, "--json")
    for event in (orjson.loads(line) for line in full.splitlines()):
        assert _squeezed(json.dumps(event["data"])) in _squeezed(out)
        assert _squeezed(json.dumps(event["metadata"])) in _squeezed(out)
        assert event["recorded_at"][:19] in out


def test_streams_list_cuts_nothing_at_80_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/wallets.db"
    asyncio.run(_wallets(url, 2))
    code, out = invoke("streams", "list", "--database-url", url, columns=80)
    assert code == 0, out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert "…" not in out
    for stream_id in _stream_ids(url):
        assert stream_id in out
