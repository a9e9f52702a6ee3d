"""Every ``eskit projections`` subcommand that takes a name refuses an unknown one alike:
one line on stderr listing the names it knows, and a non-zero exit."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eskit.cli.main import app
from tests.cli.test_projections_commands import SERVICE, _wallets_caught_up

pytestmark = pytest.mark.e2e
runner = CliRunner()
KNOWN = "(known: wallets_by_id, wallets_search)"
NAMING = [
    ["run", "bogus"],
    ["rebuild", "bogus"],
    ["park", "bogus"],
    ["dead-letters", "--name", "bogus"],
]


def invoke(*args: str, **env: str | None) -> tuple[int, str, str]:
    """``eskit *args`` at 80 columns, with these settings (None: unset): status, out, err."""
    settings = {"ESKIT_PROJECTIONS": None, "ESKIT_SERVICE": None, **env}
    result = runner.invoke(app, list(args), env={"COLUMNS": "80", **settings})
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store whose wallets' projections ran: both have a stored checkpoint."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/names.db"
    else:
        url = str(request.getfixturevalue("postgres_url"))
    asyncio.run(_wallets_caught_up(url, wallets=1, deposits=1))
    return url


def assert_unknown(result: tuple[int, str, str]) -> None:
    code, out, err = result
    assert code != 0
    assert err.splitlines() == [
        f"error (projection_not_found): no projection named 'bogus' {KNOWN}"
    ], err
    assert out == ""


@pytest.mark.parametrize("args", NAMING, ids=lambda a: a[0])
def test_an_unknown_name_with_the_service_named(url: str, args: list[str]) -> None:
    assert_unknown(invoke("projections", *args, "--database-url", url, ESKIT_SERVICE=SERVICE))


@pytest.mark.parametrize("args", NAMING[2:], ids=lambda a: a[0])
def test_an_unknown_name_with_nothing_named_is_checked_against_the_stored_ones(
    url: str, args: list[str]
) -> None:
    assert_unknown(invoke("projections", *args, "--database-url", url))


def test_a_name_with_a_stored_checkpoint_is_known_though_not_named(url: str) -> None:
    only_by_id = "tests.wallets.projections:documents_only"
    code, out, err = invoke(
        "projections",
        "dead-letters",
        "--name",
        "wallets_search",
        "--database-url",
        url,
        ESKIT_PROJECTIONS=only_by_id,
    )
    assert (code, err) == (0, ""), out
    code, out, err = invoke("projections", "park", "wallets_search", "--database-url", url)
    assert code != 0
    assert "not failing" in err  # known, and told what is wrong with it instead


def test_no_projection_known_at_all(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/empty.db"
    code, _, err = invoke("projections", "dead-letters", "--name", "bogus", "--database-url", url)
    assert code != 0
    assert "no projection named 'bogus'" in err
