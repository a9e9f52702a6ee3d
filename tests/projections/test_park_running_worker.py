"""``eskit projections park`` takes effect on a worker running in another process within a
second, whatever the worker's backoff, on both backends; what a worker's ``park`` policy
parked is listed by ``eskit projections dead-letters`` and counted by ``status``.

A worker process (``eskit projections run``) stops at a poison event under a ``stop``
policy that waits 30 s between attempts; the CLI parks the event from a process of its own;
the worker's checkpoint then passes the event within about ``PARK_CHECK_S``, and everything
but the parked event is applied exactly once.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from eskit.projections.runner import PARK_CHECK_S
from eskit.store import EventStoreBackend, open_store, require_transactions
from tests.projections.poison_worker import (
    NAME,
    PARKING_NAME,
    PARKING_WORKER_LOG,
    POISON_WORKER_LOG,
)
from tests.projections.support import assert_each_once, open_wallet, stored_positions
from tests.serving.processes import Process
from tests.wallets.domain import Deposit, Deposited, build_handler

pytestmark = pytest.mark.e2e

SPEC = "tests.projections.poison_worker:projections"


async def _wallet_with_poison(store: EventStoreBackend) -> int:
    handler = build_handler(store)
    await handler.handle(open_wallet("w-1"))
    for payment_id in ["a1", "a2", "poison", "b1", "b2"]:
        await handler.handle(Deposit(aggregate_id="w-1", amount=5, payment_id=payment_id))
    async for record in store.read_all(event_types=[Deposited.event_type]):
        if record.data["payment_id"] == "poison":
            return record.position
    raise AssertionError("no poison event stored")


async def _until(condition: object, what: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not await condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


async def test_park_from_the_cli_moves_a_running_worker_within_a_second(
    worker_database_url: str, tmp_path: Path
) -> None:
    url = worker_database_url
    async with open_store(url) as opened:
        store = require_transactions(opened, "test")
        poison = await _wallet_with_poison(opened)
        positions = await stored_positions(opened)
        options = ["--database-url", url, "--projections", SPEC]
        worker = Process(["projections", "run", *options], tmp_path, {})
        try:
            await asyncio.to_thread(worker.read_line, "running")

            async def failing() -> bool:
                return (await store.committed.checkpoints.get(NAME)).error_position == poison

            await _until(failing, "the worker to record its failure")
            parking = Process(["projections", "park", NAME, *options], tmp_path, {})
            code, out = await asyncio.to_thread(parking.wait, 60.0)
            parked_at = time.monotonic()
            assert code == 0, out
            assert f"at position {poison}" in out

            async def passed() -> bool:
                return (await store.committed.checkpoints.get(NAME)).position >= positions[-1]

            await _until(passed, "the worker to pass the parked event", timeout_s=10)
            after_exit_s = time.monotonic() - parked_at
        finally:
            code, out = await asyncio.to_thread(worker.terminate)
        assert code == 0, out
        # from the park's commit (its time) to the worker's next checkpoint (the time stored)
        (letter,) = await store.committed.dead_letters.all(NAME)
        moved = (await store.committed.checkpoints.get(NAME)).updated_at
        assert moved is not None
        took_s = (moved - letter.parked_at).total_seconds()
        assert after_exit_s < 1.0, f"still stuck {after_exit_s:.2f} s after the CLI ended"
        assert took_s < 1.0, f"the park took {took_s:.2f} s (checks every {PARK_CHECK_S} s)"
        assert_each_once(
            await POISON_WORKER_LOG.counts(store), [p for p in positions if p != poison]
        )
        status = Process(["projections", "status", *options], tmp_path, {})
        code, out = await asyncio.to_thread(status.wait, 60.0)
        assert code == 0, out
        (row,) = [line for line in out.splitlines() if NAME in line]
        cells = [cell.strip() for cell in row.strip("│ ").split("│")]
        assert cells[:3] == [NAME, "live", str(positions[-1])], row
        assert cells[5:7] == ["stop", "1"], row


def _row(out: str, name: str) -> list[str]:
    """The cells of the table row of ``name`` in a CLI's output."""
    (row,) = [line for line in out.splitlines() if name in line]
    return [cell.strip() for cell in row.strip("│ ").split("│")]


async def test_what_a_workers_policy_parked_is_listed_by_the_cli(
    worker_database_url: str, tmp_path: Path
) -> None:
    url = worker_database_url
    async with open_store(url) as opened:
        store = require_transactions(opened, "test")
        poison = await _wallet_with_poison(opened)
        positions = await stored_positions(opened)
        options = [
            "--database-url",
            url,
            "--projections",
            f"{SPEC.split(':')[0]}:parking_projections",
        ]
        worker = Process(["projections", "run", *options], tmp_path, {})
        try:
            await asyncio.to_thread(worker.read_line, "running")

            async def passed() -> bool:
                return (await store.committed.checkpoints.get(PARKING_NAME)).position >= positions[
                    -1
                ]

            await _until(passed, "the worker to park the poison event and go on")
        finally:
            code, out = await asyncio.to_thread(worker.terminate)
        assert code == 0, out
        assert_each_once(
            await PARKING_WORKER_LOG.counts(store), [p for p in positions if p != poison]
        )
    listing = Process(
        ["projections", "dead-letters", "--name", PARKING_NAME, *options], tmp_path, {}
    )
    code, out = await asyncio.to_thread(listing.wait, 60.0)
    assert code == 0, out
    cells = _row(out, PARKING_NAME)
    assert cells[1:4] == [str(poison), Deposited.event_type, "w-1"], cells
    assert "RuntimeError" in out
    status = Process(["projections", "status", *options], tmp_path, {})
    code, out = await asyncio.to_thread(status.wait, 60.0)
    assert code == 0, out
    cells = _row(out, PARKING_NAME)
    assert cells[1] == "live", cells
    assert cells[5:7] == ["park after 2", "1"], cells
