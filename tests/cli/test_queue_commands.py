"""``eskit queue``: queued commands and their outcomes, one command in full, the depth.

Commands are queued as the door queues them (``tx.queue.enqueue``) and handled by a real
worker over the wallets, so their outcomes are those a worker records.
"""

import asyncio
import json
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eskit.cli.main import app
from eskit.domain import Command
from eskit.process import CommandDispatcher, QueueWorker, queued_command
from eskit.store import EventStoreBackend, open_store, require_transactions
from tests.wallets.domain import Deposit, OpenWallet, Withdraw, build_handler

pytestmark = pytest.mark.e2e
runner = CliRunner()


def invoke(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, list(args), env={"COLUMNS": "250"})
    return result.exit_code, result.output


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/queue.db"
    return str(request.getfixturevalue("postgres_url"))


def table(out: str) -> list[list[str]]:
    """The printed table's lines (header first) as their cells."""
    return [
        [cell.strip() for cell in line.replace("┃", "│").split("│")[1:-1]]
        for line in out.splitlines()
        if "│" in line or "┃" in line
    ]


def rows(out: str) -> dict[str, list[str]]:
    """The commands listed, as their cells, by id."""
    return {cells[0]: cells for cells in table(out)[1:]}


@dataclass
class Queued:
    """The ids of commands the test queued, by what became of them."""

    wallet_id: str
    done: Command
    refused: Command
    scheduled: Command
    retried: Command


async def _enqueue(store: EventStoreBackend, command: Command, **options: datetime) -> None:
    async with require_transactions(store, "queue").transaction() as tx:
        await tx.queue.enqueue([queued_command(command, now=datetime.now(UTC), **options)])


async def _queue_and_handle(url: str) -> Queued:
    async with open_store(url) as store:
        handler = build_handler(store)
        wallet_id = (await handler.handle(OpenWallet(owner="Ann", balance=5))).aggregate_id
        queued = Queued(
            wallet_id,
            done=Deposit(aggregate_id=wallet_id, amount=7, payment_id="p1"),
            refused=Withdraw(aggregate_id=wallet_id, amount=1000, payment_id="p2"),
            scheduled=Deposit(aggregate_id=wallet_id, amount=1, payment_id="p3"),
            retried=Deposit(aggregate_id=wallet_id, amount=2, payment_id="p4"),
        )
        for command in (queued.done, queued.refused):
            await _enqueue(store, command)
        await QueueWorker(store, CommandDispatcher.of([handler])).drain()
        later = datetime.now(UTC) + timedelta(hours=1)
        await _enqueue(store, queued.scheduled, available_at=later)
        await _enqueue(store, queued.retried)
        async with require_transactions(store, "queue").transaction() as tx:
            now = datetime.now(UTC)
            [claimed] = await tx.queue.claim(now=now, limit=1, lease_s=60)
            error = "StoreUnavailableError: the store went away"
            await tx.queue.retry(claimed.id, available_at=now, error=error, now=now)
        return queued


def queue_and_handle(url: str) -> Queued:
    return asyncio.run(_queue_and_handle(url))


def test_list_shows_each_command_with_its_status_attempts_due_time_and_outcome(url: str) -> None:
    queued = queue_and_handle(url)

    code, out = invoke("queue", "list", "--database-url", url)

    assert code == 0, out
    listed = rows(out)
    done = listed[str(queued.done.command_id)]
    assert done[1:4] == ["Deposit", "done", "1"]
    assert re.fullmatch(r"version 2 at position \d+", done[5]), done
    assert listed[str(queued.refused.command_id)][1:4] == ["Withdraw", "refused", "1"]
    assert listed[str(queued.refused.command_id)][5] == "insufficient_funds"
    retried = listed[str(queued.retried.command_id)]
    assert retried[2:4] == ["queued", "1"]
    assert retried[5] == "StoreUnavailableError: the store went away"
    scheduled = listed[str(queued.scheduled.command_id)]
    assert scheduled[2:4] == ["queued", "0"]
    due = datetime.strptime(scheduled[4], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)
    assert due > datetime.now(UTC) + timedelta(minutes=59)
    assert "4 command(s)" in out


def test_list_status_shows_only_the_commands_in_that_status(url: str) -> None:
    queued = queue_and_handle(url)

    code, out = invoke("queue", "list", "--database-url", url, "--status", "refused")

    assert code == 0, out
    assert list(rows(out)) == [str(queued.refused.command_id)]


def test_list_limit_keeps_the_oldest_enqueued(url: str) -> None:
    queued = queue_and_handle(url)

    code, out = invoke("queue", "list", "--database-url", url, "--limit", "1")

    assert code == 0, out
    assert list(rows(out)) == [str(queued.done.command_id)]


def test_show_prints_every_field_and_the_outcome_as_json(url: str) -> None:
    queued = queue_and_handle(url)
    command_id = str(queued.refused.command_id)

    code, out = invoke("queue", "show", command_id, "--database-url", url)

    assert code == 0, out
    fields = dict(
        (*re.split(r"\s{2,}", line.strip(), maxsplit=1), "")[:2] for line in out.splitlines()
    )
    assert fields["id"] == command_id
    assert (fields["type"], fields["status"], fields["attempts"]) == ("Withdraw", "refused", "1")
    for name in ("enqueued at", "due at", "updated at"):
        datetime.strptime(fields[name], "%Y-%m-%d %H:%M:%S")
    assert json.loads(fields["payload"])["amount"] == 1000
    assert json.loads(fields["metadata"]) == {}
    error = json.loads(fields["outcome"])["error"]
    assert error["code"] == "insufficient_funds"
    assert queued.wallet_id in error["message"]


def test_show_of_an_unknown_id_fails_with_command_not_found(url: str) -> None:
    queue_and_handle(url)
    unknown = str(uuid.uuid4())

    code, out = invoke("queue", "show", unknown, "--database-url", url)

    assert code == 1
    assert f"error (command_not_found): command '{unknown}' not found" in out


def test_depth_counts_ready_running_and_scheduled_commands_and_the_oldest_wait(
    url: str,
) -> None:
    async def fill() -> None:
        async with open_store(url) as store:
            now = datetime.now(UTC)
            for n, waited in enumerate((30, 10)):
                command = Deposit(aggregate_id="w", amount=1, payment_id=f"r{n}")
                await _enqueue(store, command, available_at=now - timedelta(seconds=waited))
            await _enqueue(
                store,
                Deposit(aggregate_id="w", amount=1, payment_id="s"),
                available_at=now + timedelta(hours=1),
            )
            async with require_transactions(store, "queue").transaction() as tx:
                await tx.queue.claim(now=now, limit=1, lease_s=60)  # the oldest: running
            await _enqueue(store, Deposit(aggregate_id="w", amount=1, payment_id="r2"))

    asyncio.run(fill())

    code, out = invoke("queue", "depth", "--database-url", url)

    assert code == 0, out
    header, [ready, running, scheduled, waited] = table(out)
    assert header == ["ready", "running", "scheduled", "oldest ready waited (s)"]
    assert (ready, running, scheduled) == ("2", "1", "1")
    assert 10 <= float(waited) < 20


def test_depth_of_an_empty_queue_shows_no_wait(url: str) -> None:
    code, out = invoke("queue", "depth", "--database-url", url)

    assert code == 0, out
    assert table(out)[1] == ["0", "0", "0", ""]
