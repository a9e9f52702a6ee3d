"""``eskit projections``: status, rebuild, park and dead letters, run in-process on real stores.

The projections are those ``ESKIT_PROJECTIONS`` names, else those of the service
``ESKIT_SERVICE`` names: an operator names the service once.
"""

import asyncio
import re
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eskit.cli.main import app
from eskit.projections import ProjectionRunner
from eskit.store import SQLiteEventStore, open_store, require_transactions
from eskit.store.sagas import SagaRecord
from tests.serving.processes import Process
from tests.wallets.domain import Deposit, Deposited, OpenWallet, build_handler
from tests.wallets.processes import WelcomeBonus
from tests.wallets.projections import projections

pytestmark = pytest.mark.e2e
runner = CliRunner()
PROJECTIONS = "tests.wallets.projections:projections"
SERVICE = "tests.wallets.service:service"
WITH_SAGA = "tests.wallets.processes:service"


def invoke(
    *args: str, projections: str | None = PROJECTIONS, service: str | None = None
) -> tuple[int, str]:
    """Run ``eskit *args`` with these settings (None: unset)."""
    env = {"COLUMNS": "200", "ESKIT_PROJECTIONS": projections, "ESKIT_SERVICE": service}
    result = runner.invoke(app, list(args), env=env)
    return result.exit_code, result.output


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cli.db"
    return str(request.getfixturevalue("postgres_url"))


async def _wallets_caught_up(url: str, wallets: int, deposits: int) -> None:
    """Open ``wallets`` wallets, pay ``deposits`` times into each, catch the read models up."""
    async with open_store(url) as store:
        handler = build_handler(store)
        for n in range(wallets):
            opened = await handler.handle(OpenWallet(owner=f"Owner {n}"))
            for k in range(deposits):
                await handler.handle(
                    Deposit(aggregate_id=opened.aggregate_id, amount=1, payment_id=f"p{k}")
                )
        async with ProjectionRunner(store, projections()) as projecting:
            await projecting.wait_for(await store.last_position(), timeout_s=30)


def test_status_rebuild_status(url: str) -> None:
    asyncio.run(_wallets_caught_up(url, wallets=4, deposits=5))
    code, out = invoke("projections", "status", "--database-url", url)
    assert code == 0, out
    assert "wallets_by_id" in out
    assert "wallets_search" in out
    assert "live" in out
    code, out = invoke("projections", "rebuild", "wallets_by_id", "--database-url", url)
    assert code == 0, out
    assert re.search(r"rebuilt wallets_by_id: 24 events in .* now at position \d+", out)
    code, out = invoke("projections", "status", "--database-url", url)
    assert code == 0, out
    assert "failing" not in out


def test_the_services_projections_when_none_are_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    asyncio.run(_wallets_caught_up(url, wallets=2, deposits=1))

    code, out = invoke(
        "projections", "status", "--database-url", url, projections=None, service=SERVICE
    )
    assert code == 0, out
    assert ("wallets_by_id" in out, "wallets_search" in out, "failing" in out) == (
        True,
        True,
        False,
    )
    code, out = invoke(
        "projections", "status", "--database-url", url, "--service", SERVICE, projections=None
    )
    assert code == 0, out
    assert "wallets_search" in out
    code, out = invoke(
        "projections",
        "rebuild",
        "wallets_search",
        "--database-url",
        url,
        projections=None,
        service=SERVICE,
    )
    assert code == 0, out
    assert "rebuilt wallets_search: 4 events" in out
    code, out = invoke(
        "projections",
        "dead-letters",
        "--name",
        "wallets_by_id",
        "--database-url",
        url,
        projections=None,
        service=SERVICE,
    )
    assert code == 0, out
    for args in (["park", "nope"], ["dead-letters", "--name", "nope"]):
        code, out = invoke(
            "projections", *args, "--database-url", url, projections=None, service=SERVICE
        )
        assert code == 1
        assert "no projection named 'nope'" in out


def test_named_projections_win_over_the_services(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    only = "tests.wallets.projections:documents_only"

    code, out = invoke(
        "projections", "status", "--database-url", url, projections=only, service=SERVICE
    )

    assert code == 0, out
    assert "wallets_by_id" in out
    assert "wallets_search" not in out


def test_clear_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/errors.db"
    code, out = invoke("projections", "status", "--database-url", url, projections=None)
    assert code == 1
    assert "no projections configured" in out
    assert "ESKIT_SERVICE" in out
    assert "--service" in out
    code, out = invoke(
        "projections", "status", "--database-url", url, projections=None, service="nowhere:x"
    )
    assert code == 1
    assert "cannot import nowhere" in out
    code, out = invoke("projections", "status", "--database-url", url, projections="nowhere:x")
    assert code == 1
    assert "cannot import 'nowhere'" in out
    code, out = invoke("projections", "rebuild", "nope", "--database-url", url)
    assert code == 1
    assert "no projection named 'nope'" in out
    code, out = invoke("projections", "park", "wallets_by_id", "--database-url", url)
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

    async def deposit_without_wallet() -> None:
        async with SQLiteEventStore.open(path) as store:
            event = Deposited(amount=5, payment_id="p")
            await store.append("ghost", [event], expected_version=0, stream_type="Wallet")

    asyncio.run(deposit_without_wallet())
    # the projections refuse a deposit to a wallet they never saw opened
    code, out = invoke("projections", "rebuild", "wallets_by_id", "--database-url", url)
    assert code == 1
    assert "handler_failed" in out
    assert "ghost" in out
    asyncio.run(run_until("failing"))
    code, out = invoke("projections", "status", "--database-url", url)
    assert code == 0, out
    assert out.count("failing") == 2
    assert "LookupError" in out
    for name in ("wallets_by_id", "wallets_search"):
        code, out = invoke("projections", "park", name, "--database-url", url)
        assert code == 0, out
        assert "parked wallets.Deposited at position 1 (stream ghost)" in out
    code, out = invoke("projections", "dead-letters", "--database-url", url)
    assert code == 0, out
    assert "wallets_by_id" in out
    assert "wallets_search" in out
    assert "ghost" in out
    asyncio.run(run_until("live"))
    code, out = invoke("projections", "status", "--database-url", url)
    assert "failing" not in out


def test_the_services_sagas_are_shown_beside_its_projections(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    asyncio.run(_wallets_caught_up(url, wallets=2, deposits=1))

    code, out = invoke(
        "projections", "status", "--database-url", url, projections=None, service=WITH_SAGA
    )

    assert code == 0, out
    shown = {line.split("│")[1].strip(): line for line in out.splitlines() if "│" in line}
    assert set(shown) == {"wallets_by_id", "wallets_search", "welcome_bonus"}
    # the saga never ran: every wallet opened and deposit made waits for it
    assert [c.strip() for c in shown["welcome_bonus"].split("│")[2:5]] == ["catching_up", "0", "4"]


async def _instances(url: str) -> dict[str, SagaRecord]:
    async with open_store(url) as store:
        db = require_transactions(store, "sagas")
        return {r.correlation_id: r for r in await db.committed.sagas.list(limit=100)}


def test_run_runs_a_named_saga_of_the_service(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    asyncio.run(_wallets_caught_up(url, wallets=2, deposits=0))
    running = Process(
        ["projections", "run", WelcomeBonus.name, "--database-url", url],
        tmp_path,
        {"ESKIT_SERVICE": WITH_SAGA},
    )
    try:
        assert running.read_line("running") == "running welcome_bonus"
        deadline = time.monotonic() + 30
        while len(instances := asyncio.run(_instances(url))) < 2:
            assert time.monotonic() < deadline, instances
            time.sleep(0.05)
        code, out = running.terminate()
    finally:
        running.kill()

    assert code == 0, out
    assert {r.step for r in instances.values()} == {"paying"}


def test_rebuilding_a_saga_is_refused_with_why(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/cli.db"
    asyncio.run(_wallets_caught_up(url, wallets=1, deposits=1))

    code, out = invoke(
        "projections",
        "rebuild",
        WelcomeBonus.name,
        "--database-url",
        url,
        projections=None,
        service=WITH_SAGA,
    )

    assert code == 1
    assert "error (configuration_error): welcome_bonus cannot be rebuilt" in out
    assert "the commands a saga issued" in out
    assert "rebuilding" not in out  # no progress bar drawn for a refusal
