"""``eskit projections rebuild``: the summary agrees with the bar's last frame."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eskit.cli.main import app
from tests.cli.test_projections_commands import PROJECTIONS, _wallets_caught_up

pytestmark = pytest.mark.e2e
runner = CliRunner()
SUMMARY = re.compile(
    r"rebuilt wallets_by_id: ([\d,]+) events in ([\d.]+) s \(([\d,]+) events/s\), "
    r"now at position \d+"
)
LAST_FRAME = re.compile(r"rebuilding wallets_by_id .* (\d+)/(\d+) +100% +([\d,]+) ev/s")


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/rebuild.db"
    return str(request.getfixturevalue("postgres_url"))


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_summary_rate_is_the_count_over_the_time_and_the_bars_own(url: str) -> None:
    asyncio.run(_wallets_caught_up(url, wallets=40, deposits=10))  # 440 events
    result = runner.invoke(
        app,
        ["projections", "rebuild", "wallets_by_id", "--database-url", url, "--batch-size", "50"],
        env={"COLUMNS": "120", "ESKIT_PROJECTIONS": PROJECTIONS},
    )
    assert result.exit_code == 0, result.output
    summary = SUMMARY.search(result.output)
    assert summary is not None, result.output
    events, seconds, rate = _number(summary[1]), float(summary[2]), _number(summary[3])
    assert events == 440
    assert seconds > 0
    assert rate == round(events / seconds)
    frame = LAST_FRAME.findall(result.output)
    assert frame, result.output
    done, total, bar_rate = frame[-1]
    assert (int(done), int(total), _number(bar_rate)) == (events, events, rate)
