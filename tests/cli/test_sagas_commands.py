"""``eskit sagas``: instances as stored, those no event moved for a while shown stuck, counts.

The instances are written as a saga's batch writes them (``tx.sagas.put``), at times the
test picks, so that some have waited longer than ``--stuck-after``.
"""

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eskit.cli.main import app
from eskit.store import open_store
from eskit.store.sagas import SagaRecord, SagaStatus

pytestmark = pytest.mark.e2e
runner = CliRunner()
NOW = datetime.now(UTC)


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.output


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/sagas.db"
    return str(request.getfixturevalue("postgres_url"))


def instance(
    correlation_id: str,
    status: SagaStatus,
    *,
    idle: timedelta,
    step: str = "paying",
    reason: str = "",
    saga: str = "welcome_bonus",
) -> SagaRecord:
    """An instance of ``saga`` last moved ``idle`` ago."""
    updated = NOW - idle
    started = updated - timedelta(hours=1)
    return SagaRecord(saga, correlation_id, status, step, 1, started, updated, reason=reason)


async def _write(url: str, *records: SagaRecord) -> None:
    async with open_store(url) as store, store.transaction() as tx:
        await tx.sagas.put(list(records))


def write(url: str, *records: SagaRecord) -> None:
    asyncio.run(_write(url, *records))


def table(out: str) -> list[list[str]]:
    """The printed table's lines (header first) as their cells."""
    return [
        [cell.strip() for cell in line.replace("┃", "│").split("│")[1:-1]]
        for line in out.splitlines()
        if "│" in line or "┃" in line
    ]


def rows(out: str) -> dict[str, list[str]]:
    """The instances listed, as their cells, by correlation id."""
    return {cells[1]: cells for cells in table(out)[1:]}


HOUR = timedelta(hours=1)
FRESH = timedelta(seconds=5)


def test_each_instance_is_listed_with_its_saga_status_step_reason_and_times(url: str) -> None:
    write(
        url,
        instance("w-done", "completed", idle=HOUR, step="paid", reason="bonus paid"),
        instance("w-running", "running", idle=FRESH),
    )

    code, out = invoke("sagas", "list", "--database-url", url)

    assert code == 0, out
    listed = rows(out)
    assert listed["w-done"][:5] == ["welcome_bonus", "w-done", "completed", "paid", "bonus paid"]
    assert listed["w-running"][:4] == ["welcome_bonus", "w-running", "running", "paying"]
    updated = (NOW - HOUR).strftime("%Y-%m-%d %H:%M:%S")
    assert listed["w-done"][6] == updated
    assert "2 instance(s)" in out


def test_a_running_instance_no_event_moved_for_stuck_after_is_shown_stuck_with_why(
    url: str,
) -> None:
    write(url, instance("w-stuck", "running", idle=HOUR))

    code, out = invoke("sagas", "list", "--database-url", url, "--stuck-after", "600")

    assert code == 0, out
    cells = rows(out)["w-stuck"]
    status, reason = cells[2], cells[4]
    assert status == "stuck"
    seconds = int(reason.removeprefix("no event for ").partition(" ")[0])
    assert 3600 <= seconds < 5400  # NOW is taken at import, minutes before under xdist
    assert reason.endswith("s at step paying")


def test_a_stuck_instance_keeps_the_reason_it_gave(url: str) -> None:
    write(url, instance("w-undo", "compensating", idle=HOUR, reason="WalletClosed"))

    code, out = invoke("sagas", "list", "--database-url", url)

    assert code == 0, out
    assert rows(out)["w-undo"][2:5] == ["stuck", "paying", "WalletClosed"]


def test_a_finished_instance_is_never_stuck(url: str) -> None:
    write(url, instance("w-failed", "failed", idle=timedelta(days=30)))

    code, out = invoke("sagas", "list", "--database-url", url, "--stuck-after", "1")

    assert code == 0, out
    assert rows(out)["w-failed"][2] == "failed"


def test_status_stuck_lists_only_the_stuck_instances(url: str) -> None:
    write(
        url,
        instance("w-stuck", "running", idle=HOUR),
        instance("w-stuck-undo", "compensating", idle=2 * HOUR),
        instance("w-running", "running", idle=FRESH),
        instance("w-done", "completed", idle=3 * HOUR),
    )

    code, out = invoke("sagas", "list", "--database-url", url, "--status", "stuck")

    assert code == 0, out
    assert list(rows(out)) == ["w-stuck-undo", "w-stuck"]


def test_status_running_leaves_the_stuck_ones_out(url: str) -> None:
    write(
        url,
        *(instance(f"w-stuck-{n}", "running", idle=HOUR + timedelta(minutes=n)) for n in range(3)),
        instance("w-running", "running", idle=FRESH),
    )

    code, out = invoke(
        "sagas", "list", "--database-url", url, "--status", "running", "--limit", "1"
    )

    assert code == 0, out
    assert list(rows(out)) == ["w-running"]


def test_stuck_after_says_how_long_an_instance_may_wait(url: str) -> None:
    write(url, instance("w-slow", "running", idle=HOUR))

    code, out = invoke("sagas", "list", "--database-url", url, "--stuck-after", "7200")

    assert code == 0, out
    assert rows(out)["w-slow"][2] == "running"


def test_saga_lists_one_sagas_instances(url: str) -> None:
    write(
        url,
        instance("w-1", "running", idle=FRESH),
        instance("o-1", "running", idle=FRESH, saga="other"),
    )

    code, out = invoke("sagas", "list", "--database-url", url, "--saga", "other")

    assert code == 0, out
    assert list(rows(out)) == ["o-1"]


def test_limit_bounds_the_list_least_recently_updated_first(url: str) -> None:
    write(url, *(instance(f"w-{n}", "completed", idle=timedelta(minutes=n)) for n in range(5)))

    code, out = invoke("sagas", "list", "--database-url", url, "--limit", "2")

    assert code == 0, out
    assert list(rows(out)) == ["w-4", "w-3"]


def test_counts_give_each_saga_per_status_with_stuck_ones_apart(url: str) -> None:
    write(
        url,
        instance("w-running", "running", idle=FRESH),
        instance("w-stuck", "running", idle=HOUR),
        instance("w-stuck-undo", "compensating", idle=HOUR),
        instance("w-done-1", "completed", idle=HOUR),
        instance("w-done-2", "completed", idle=FRESH),
        instance("o-failed", "failed", idle=HOUR, saga="other"),
    )

    code, out = invoke("sagas", "counts", "--database-url", url)

    assert code == 0, out
    header, *counted = table(out)
    assert header == [
        "saga",
        "running",
        "completed",
        "compensating",
        "compensated",
        "failed",
        "stuck",
        "total",
    ]
    assert counted == [
        ["other", "0", "0", "0", "0", "1", "0", "1"],
        ["welcome_bonus", "1", "2", "0", "0", "0", "2", "5"],
    ]
