"""Every ``eskit`` help page, at 80 columns: flags read as flags, every option is listed."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from eskit.cli.main import app

pytestmark = pytest.mark.unit
runner = CliRunner()


def _command_paths() -> list[list[str]]:
    """Every command and group of ``eskit``, as the words that name it (the root: [])."""
    paths: list[list[str]] = []

    def walk(command: object, path: list[str]) -> None:
        paths.append(path)
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            walk(sub, [*path, name])

    walk(get_command(app), [])
    return paths


def _options(path: list[str]) -> list[str]:
    """The long option names of the command at ``path``, as its parser knows them."""
    command = get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    with command.make_context("eskit", ["--help"], resilient_parsing=True) as ctx:
        params = command.get_params(ctx)
    return [o for p in params for o in (*p.opts, *p.secondary_opts) if o.startswith("--")]


def _help(path: list[str]) -> str:
    result = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80", "TERMINAL_WIDTH": "80"})
    assert result.exit_code == 0, result.output
    return result.output


def test_the_walk_finds_every_command() -> None:
    paths = [" ".join(p) for p in _command_paths()]
    for expected in ("", "serve", "streams show", "projections rebuild", "store horizon"):
        assert expected in paths


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "eskit")
def test_help_shows_no_value_type_on_a_flag(path: list[str]) -> None:
    shown = _help(path)
    assert "<bool>" not in shown
    help_line = next(line for line in shown.splitlines() if "--help" in line)
    assert "<" not in help_line, help_line


@pytest.mark.parametrize("path", _command_paths(), ids=lambda p: " ".join(p) or "eskit")
def test_help_lists_every_option_within_80_columns(path: list[str]) -> None:
    shown = _help(path)
    assert max(len(line) for line in shown.splitlines()) <= 80
    for option in _options(path):
        assert option in shown, f"{option} missing from eskit {' '.join(path)} --help"


def test_an_option_taking_a_value_still_shows_its_type() -> None:
    shown = _help(["streams", "list"])
    limit = next(line for line in shown.splitlines() if "--limit" in line)
    assert "<int" in limit
