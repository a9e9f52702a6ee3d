"""``python -m bank_accounts.demo`` (``make demo``) on SQLite and PostgreSQL, then what it
recorded as ``eskit streams`` shows it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bank_accounts import demo
from eskit.cli.main import app

pytestmark = pytest.mark.e2e
runner = CliRunner()


def run_demo(url: str, *args: str) -> str:
    result = runner.invoke(demo.app, ["--database-url", url, *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_demo_then_its_streams_on_sqlite(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/demo.db"
    out = run_demo(url, "--accounts", "3", "--operations", "20")
    assert "3 accounts, 20 payments" in out
    assert "accounts match 'holder'" in out
    listed = runner.invoke(app, ["streams", "list", "--database-url", url], env={"COLUMNS": "200"})
    assert "3 stream(s)" in listed.output
    stream_id = re.findall(
        r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", listed.output
    )[0]
    shown = runner.invoke(
        app,
        ["streams", "show", stream_id, "--database-url", url, "--metadata"],
        env={"COLUMNS": "200"},
    )
    assert "bank_accounts.AccountOpened v1" in shown.output
    assert "causation_id" in shown.output


def test_the_demo_prints_every_amount_as_money(tmp_path: Path) -> None:
    out = run_demo(f"sqlite:///{tmp_path}/demo.db", "--accounts", "3", "--operations", "60")
    assert "minor units" not in out
    amounts = re.findall(r"[\d,.]+ USD", out)
    assert len(amounts) >= 6  # three balances, three search results
    assert all(re.fullmatch(r"\d{1,3}(,\d{3})*\.\d\d USD", a) for a in amounts), amounts
    refusals = [line for line in out.splitlines() if line.startswith("refused")]
    assert refusals  # this seed refuses some withdrawals, shown in the same units
    assert all(re.search(r"of [\d,]+\.\d\d USD: the balance is", line) for line in refusals)


@pytest.mark.parametrize(
    ("amount", "currency", "shown"),
    [
        (2014305, "USD", "20,143.05 USD"),
        (5, "EUR", "0.05 EUR"),
        (0, "USD", "0.00 USD"),
        (500, "JPY", "500 JPY"),
        (1234, "BHD", "1.234 BHD"),
        (-250, "USD", "-2.50 USD"),
    ],
)
def test_money_shows_minor_units_in_the_currencys_own_decimals(
    amount: int, currency: str, shown: str
) -> None:
    assert demo.money(amount, currency) == shown


def test_the_demo_runs_on_postgres(postgres_url: str) -> None:
    out = run_demo(postgres_url, "--accounts", "2", "--operations", "5")
    assert "2 accounts, 5 payments" in out
