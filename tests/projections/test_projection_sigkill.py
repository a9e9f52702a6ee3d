"""``eskit projections run`` killed with SIGKILL at random points loses and repeats nothing.

The test process keeps handling wallet commands while a worker process
(``eskit projections run``, batches of 10) follows the log; twenty times the worker is
SIGKILLed at a random moment after it started, and started again. Then the writes stop and
an in-process runner finishes the work. Afterwards:

* the applied-events log (one row per handled event, no unique key) holds every
  wallet position exactly once: no batch was half-committed or committed twice;
* the WalletsById documents equal the fold of the log, and a fresh ``rebuild`` produces
  exactly the same documents;
* both checkpoints stand at the head.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
from pathlib import Path

import pytest

from eskit.domain import Command
from eskit.projections import ProjectionRunner
from eskit.projections.rebuild import rebuild
from eskit.store import EventStoreBackend, open_store, require_transactions
from eskit.testing.subprocesses import eskit_command, free_leases, kill_hard
from tests.projections.support import (
    APPLIED,
    AppliedLogProjection,
    assert_each_once,
    committed_head,
    fold_wallets,
    open_wallet,
    stored_positions,
    wallet_documents,
    worker_projections,
)
from tests.wallets.domain import (
    Deposit,
    InsufficientFundsError,
    RenameOwner,
    Withdraw,
    build_handler,
)
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
ROUNDS = 20
WALLETS_OPENED = 20
WORKER_SPEC = "tests.projections.support:worker_projections"


def _start_worker(url: str, folder: Path, round_no: int) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env.pop("ESKIT_DATABASE_URL", None)
    # the test frees a killed worker's leases; a short ttl bounds the wait if it could not
    env |= {"ESKIT_LEASE_TTL_S": "1", "ESKIT_LEASE_RETRY_S": "0.1"}
    with (folder / f"worker-{round_no}.log").open("w") as errors:
        return subprocess.Popen(
            [
                *eskit_command(),
                "projections",
                "run",
                "--database-url",
                url,
                "--projections",
                WORKER_SPEC,
                "--batch-size",
                "10",
            ],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=folder,  # no stray .env is read
            env=env,
        )


async def _started(proc: subprocess.Popen[str]) -> None:
    """Wait for the worker's "running …" line (printed once its runner has started)."""
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 30)
    assert line.startswith("running"), f"worker said {line!r}, exit code {proc.poll()}"


async def _write(store: EventStoreBackend, stop: asyncio.Event) -> int:
    """Handle commands on the opened wallets, a few hundred a second, until ``stop``."""
    handler = build_handler(store)
    rng = random.Random(99)
    n = 0
    while not stop.is_set():
        wallet_id = f"acc-{rng.randrange(WALLETS_OPENED):02d}"
        roll = rng.random()
        if roll < 0.1:
            command: Command = RenameOwner(aggregate_id=wallet_id, owner=f"e{n}")
        else:
            kind = Deposit if roll < 0.6 else Withdraw
            command = kind(aggregate_id=wallet_id, amount=rng.randint(1, 40), payment_id=f"{n}")
        with contextlib.suppress(InsufficientFundsError):
            await handler.handle(command)
        n += 1
        await asyncio.sleep(0.003)
    return n


async def test_sigkilled_worker_applies_every_event_exactly_once(
    worker_database_url: str, tmp_path: Path
) -> None:
    """20 SIGKILLs of the worker process; afterwards each event applied exactly once."""
    url = worker_database_url
    rng = random.Random(20)
    async with open_store(url) as store:
        db = require_transactions(store, "tests")
        handler = build_handler(store)
        for n in range(WALLETS_OPENED):
            await handler.handle(open_wallet(f"acc-{n:02d}", balance=200))

        stop = asyncio.Event()
        writer = asyncio.create_task(_write(store, stop))
        rounds: list[tuple[int, int, int]] = []  # checkpoint before, after the kill; head then
        try:
            for round_no in range(ROUNDS):
                before = (await db.committed.checkpoints.get(AppliedLogProjection.name)).position
                proc = _start_worker(url, tmp_path, round_no)
                try:
                    await _started(proc)
                    # a random kill point: often while it works off the backlog that built
                    # up while it started, otherwise while it follows the writes
                    await asyncio.sleep(rng.uniform(0.0, rng.choice([0.05, 0.4])))
                finally:
                    code = await asyncio.to_thread(kill_hard, proc)
                    # the next worker starts working at once, not once these expired
                    await free_leases(db, proc.pid)
                assert code == -signal.SIGKILL, (tmp_path / f"worker-{round_no}.log").read_text()
                after = (await db.committed.checkpoints.get(AppliedLogProjection.name)).position
                rounds.append((before, after, await store.last_position()))
        finally:
            stop.set()
            commands = await writer

        # the killed workers did real work, and were killed with work left to do
        assert commands > 100
        assert sum(after > before for before, after, _ in rounds) >= ROUNDS // 2, rounds
        assert any(after < head for _, after, head in rounds), rounds

        head = await committed_head(store)
        async with ProjectionRunner(store, worker_projections()) as runner:
            await runner.wait_for(head, timeout_s=30)

        positions = await stored_positions(store)
        assert positions[-1] == head
        assert_each_once(await APPLIED.counts(db), positions)
        for name in (WalletsById.name, AppliedLogProjection.name):
            stored = await db.committed.checkpoints.get(name)
            assert (stored.position, stored.error) == (head, None)

        assert await wallet_documents(db) == await fold_wallets(store)
        projected = await WALLETS.all(db)
        result = await rebuild(store, WalletsById())
        assert result.position == head
        assert await WALLETS.all(db) == projected
