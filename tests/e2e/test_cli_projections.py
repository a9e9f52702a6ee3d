"""``eskit projections``: status, rebuild, park and dead letters, run in-process on real stores."""

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bank_accounts.domain import MoneyDeposited
from bank_accounts.projections import projections
from eskit.cli.main import app
from eskit.projections import ProjectionRunner
from eskit.store import SQLiteEventStore

pytestmark = pytest.mark.e2e
runner = CliRunner()
PROJECTIONS = "bank_accounts.projections:projections"


def invoke(*args: str, projections: str | None = PROJECTIONS) -> tuple[int, str]:
    env = {"COLUMNS": "200"}
    if projections is not None:
        env["ESKIT_PROJECTIONS"] = projections
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cli.db"
    return str(request.getfixturevalue("postgres_url"))


def test_status_rebuild_status(url: str) -> None:
    code, out = invoke("demo", "--database-url", url, "--accounts", "4", "--operations", "30")
    assert code == 0, out
    code, out = invoke("projections", "status", "--database-url", url)
    assert code == 0, out
    assert "bank_accounts_by_id" in out
    assert "bank_accounts_search" in out
    assert "live" in out  # the demo caught the read models up
    code, out = invoke("projections", "rebuild", "bank_accounts_by_id", "--database-url", url)
    assert code == 0, out
    assert re.search(r"rebuilt bank_accounts_by_id: \d\d events in .* now at position \d+", out)
    code, out = invoke("projections", "status", "--database-url", url)
    assert code == 0, out
    assert "failing" not in out


def test_clear_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/errors.db"
    code, out = invoke("projections", "status", "--database-url", url, projections=None)
    assert code == 1
    assert "no projections configured" in out
    code, out = invoke("projections", "status", "--database-url", url, projections="nowhere:x")
    assert code == 1
    assert "cannot import 'nowhere'" in out
    code, out = invoke("projections", "rebuild", "nope", "--database-url", url)
    assert code == 1
    assert "no projection named 'nope'" in out
    code, out = invoke("projections", "park", "bank_accounts_by_id", "--database-url", url)
    assert code == 1
    assert "not failing" in out


def test_a_poison_event_is_seen_parked_and_listed(tmp_path: Path) -> None:
    path = tmp_path / "poison.db"
    url = f"sqlite:///{path}"

    async def run_until(state: str) -> None:
        async with SQLiteEventStore.open(path) as store:
            runner = ProjectionRunner(store, projections(), retry_backoff_s=0.01)
            async with runner:
                for _ in range(500):
                    if all(s.state == state for s in await runner.status()):
                        return
                    await asyncio.sleep(0.01)
            raise AssertionError(f"never {state}: {await runner.status()}")

    async def deposit_without_account() -> None:
        async with SQLiteEventStore.open(path) as store:
            event = MoneyDeposited(amount=5, currency="USD", payment_id="p")
            await store.append("ghost", [event], expected_version=0, stream_type="BankAccount")

    asyncio.run(deposit_without_account())
    # the service's projections refuse a deposit to an account they never saw opened
    code, out = invoke("projections", "rebuild", "bank_accounts_by_id", "--database-url", url)
    assert code == 1
    assert "handler_failed" in out
    assert "ghost" in out
    asyncio.run(run_until("failing"))
    code, out = invoke("projections", "status", "--database-url", url)
    assert code == 0, out
    assert out.count("failing") == 2
    assert "LookupError" in out
    for name in ("bank_accounts_by_id", "bank_accounts_search"):
        code, out = invoke("projections", "park", name, "--database-url", url)
        assert code == 0, out
        assert "parked bank_accounts.MoneyDeposited at position 1 (stream ghost)" in out
    code, out = invoke("projections", "dead-letters", "--database-url", url)
    assert code == 0, out
    assert "bank_accounts_by_id" in out
    assert "bank_accounts_search" in out
    assert "ghost" in out
    asyncio.run(run_until("live"))
    code, out = invoke("projections", "status", "--database-url", url)
    assert "failing" not in out
