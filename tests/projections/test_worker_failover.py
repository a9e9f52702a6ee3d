"""Two ``eskit worker`` processes of the same projections: one works, the other stands by;
SIGKILL the one that works and the standby takes over within the lease's time to live plus
a few seconds, with nothing applied twice or lost.

The test process keeps handling wallet commands all along. The first worker takes every
lease before the second starts; while both run, every lease stays with the first, and the
projections follow the log. Then the first is SIGKILLed (its leases are left to expire);
the time until the second holds every lease, and until every projection has handled an
event appended just after the kill, is measured and printed. Afterwards the applied-events
log (one row per handled event, no unique key) holds each wallet event exactly once and the
documents equal the fold of the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import subprocess
import time
from pathlib import Path

import pytest

from eskit.store import EventStoreBackend, TransactionalStore, open_store, require_transactions
from eskit.store.leases import Lease
from eskit.testing.subprocesses import eskit_command, kill_hard
from tests.projections.support import (
    APPLIED,
    AppliedLogProjection,
    assert_each_once,
    committed_head,
    eventually,
    fold_wallets,
    open_wallet,
    stored_positions,
    wallet_documents,
)
from tests.wallets.domain import Deposit, InsufficientFundsError, Withdraw, build_handler
from tests.wallets.projections import WalletsById

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
WORKER_SPEC = "tests.projections.support:worker_projections"
NAMES = (WalletsById.name, AppliedLogProjection.name)
LEASES = tuple(f"projection:{name}" for name in NAMES)
TTL_S = 2.0
BOUND_S = TTL_S + 3.0
WALLETS_OPENED = 10


def _start_worker(url: str, folder: Path, label: str) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    env |= {
        "ESKIT_DATABASE_URL": url,
        "ESKIT_PROJECTIONS": WORKER_SPEC,
        "ESKIT_LEASE_TTL_S": str(TTL_S),
        "ESKIT_LEASE_RETRY_S": "1",  # the default: what an operator gets
        "ESKIT_METRICS_PORT": "0",  # two workers at once: no port to fight over
    }
    with (folder / f"worker-{label}.log").open("w") as errors:
        return subprocess.Popen(
            [*eskit_command(), "worker"],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=folder,  # no stray .env is read
            env=env,
        )


async def _started(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
    assert line.startswith("running"), f"worker said {line!r}, exit code {proc.poll()}"


async def _leases(db: TransactionalStore) -> dict[str, Lease]:
    return {lease.name: lease for lease in await db.committed.leases.list(LEASES)}


async def _held_by(db: TransactionalStore, pid: int) -> bool:
    leases = await _leases(db)
    return len(leases) == len(LEASES) and all(
        lease.pid == pid and not lease.expired for lease in leases.values()
    )


async def _positions(db: TransactionalStore) -> dict[str, int]:
    return {name: (await db.committed.checkpoints.get(name)).position for name in NAMES}


async def _write(store: EventStoreBackend, stop: asyncio.Event) -> int:
    """Deposits and withdrawals on the opened wallets, about a hundred a second."""
    handler = build_handler(store)
    rng = random.Random(5)
    n = 0
    while not stop.is_set():
        wallet_id = f"acc-{rng.randrange(WALLETS_OPENED):02d}"
        amount = rng.randint(1, 20)
        kind = Deposit if rng.random() < 0.6 else Withdraw
        command = kind(aggregate_id=wallet_id, amount=amount, payment_id=f"p-{n}")
        with contextlib.suppress(InsufficientFundsError):
            await handler.handle(command)
        n += 1
        await asyncio.sleep(0.01)
    return n


@pytest.mark.parametrize("backend", ["postgres", "sqlite"])
async def test_a_standby_worker_takes_over_a_sigkilled_one_within_the_lease_ttl(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = (
        request.getfixturevalue("postgres_url")
        if backend == "postgres"
        else f"sqlite:///{tmp_path}/events.db"  # tmp_path is absolute
    )
    async with open_store(url) as store:
        db = require_transactions(store, "tests")
        handler = build_handler(store)
        for n in range(WALLETS_OPENED):
            await handler.handle(open_wallet(f"acc-{n:02d}", balance=100))

        first = _start_worker(url, tmp_path, "first")
        second: subprocess.Popen[str] | None = None
        stop = asyncio.Event()
        writer = asyncio.create_task(_write(store, stop))
        try:
            await _started(first)
            await eventually(lambda: _held_by(db, first.pid), timeout_s=30, what="first leads")
            second = _start_worker(url, tmp_path, "second")
            await _started(second)

            # both run: only the first works, its leases renewed, the projections following
            before = await _positions(db)
            for _ in range(3):
                await asyncio.sleep(TTL_S / 2)
                assert await _held_by(db, first.pid), await _leases(db)
            after = await _positions(db)
            assert all(after[name] > before[name] for name in NAMES), (before, after)

            await asyncio.to_thread(kill_hard, first)
            killed_at = time.monotonic()
            await handler.handle(Deposit(aggregate_id="acc-00", amount=1, payment_id="after"))
            marker = await store.last_position()  # at or after that deposit

            async def taken_over() -> bool:
                return await _held_by(db, second.pid)  # type: ignore[union-attr]

            async def live_again() -> bool:
                positions = await _positions(db)
                return all(p >= marker for p in positions.values())

            await eventually(taken_over, timeout_s=BOUND_S + 10, what="the standby leads")
            takeover_s = time.monotonic() - killed_at
            await eventually(live_again, timeout_s=BOUND_S + 10, what="live again")
            live_s = time.monotonic() - killed_at
            print(
                f"\n{backend}: failover after SIGKILL with a {TTL_S:.0f} s lease: "
                f"standby holds every lease after {takeover_s:.2f} s, "
                f"projections live again after {live_s:.2f} s"
            )
            assert live_s < BOUND_S

            stop.set()
            commands = await writer
            head = await committed_head(store)

            async def caught_up() -> bool:
                positions = await _positions(db)
                return all(p >= head for p in positions.values())

            await eventually(caught_up, timeout_s=30, what="the standby caught up")
            assert commands > 50
        finally:
            stop.set()
            await asyncio.gather(writer, return_exceptions=True)
            for proc in (first, second):
                if proc is not None:
                    await asyncio.to_thread(kill_hard, proc)

        positions = await stored_positions(store)
        assert_each_once(await APPLIED.counts(db), positions)
        assert await wallet_documents(db) == await fold_wallets(store)
