"""Never silent: a projection that cannot move says why, and recovers by itself."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import psycopg
import pytest

from eskit.projections import ProjectionRunner
from eskit.store import EventStoreBackend
from eskit.store.postgres import PostgresEventStore
from tests.projections.support import committed_head, opened_event
from tests.wallets.domain import WalletOpened
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration


async def _state(runner: ProjectionRunner, wanted: str, timeout_s: float = 5.0) -> str:
    deadline = time.monotonic() + timeout_s
    while True:
        (status,) = await runner.status()
        if status.state == wanted or time.monotonic() > deadline:
            return f"{status.state}: {status.stalled_reason}"
        await asyncio.sleep(0.05)


async def test_held_back_horizon_is_reported_then_passes(postgres_url: str) -> None:
    async with (
        PostgresEventStore.open(postgres_url) as store,
        await psycopg.AsyncConnection.connect(postgres_url) as blocker,
    ):
        await blocker.execute("CREATE TABLE IF NOT EXISTS side (x int)")
        await blocker.commit()
        await blocker.execute("INSERT INTO side VALUES (1)")  # an open transaction with an xid
        runner = ProjectionRunner(store, [WalletsById()], stall_after_s=0.3, poll_interval_s=0.1)
        async with runner:
            await store.append(
                "a",
                [opened_event(owner="u0")],
                expected_version=0,
                stream_type="Wallet",
            )
            state = await _state(runner, "stalled")
            assert state.startswith("stalled"), state
            assert "held back by transaction pid" in state
            assert "INSERT INTO side" in state
            await blocker.rollback()
            await runner.wait_for(await committed_head(store), timeout_s=5)
            assert await WALLETS.get(runner.store, "a") is not None
            assert (await _state(runner, "live")).startswith("live")


async def test_listener_reconnects_after_its_connection_is_killed(postgres_url: str) -> None:
    # a long poll interval: only NOTIFY can wake the runner in time
    async with (
        PostgresEventStore.open(postgres_url) as reader_store,
        PostgresEventStore.open(postgres_url) as writer_store,
        ProjectionRunner(reader_store, [WalletsById()], poll_interval_s=60) as runner,
    ):
        r1 = await writer_store.append(
            "b1",
            [opened_event(balance=1, owner=f"u{1}")],
            expected_version=0,
            stream_type="Wallet",
        )
        await runner.wait_for(r1.position, timeout_s=5)
        killed = await writer_store.committed.sql.fetch(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE query LIKE 'LISTEN%%' AND pid <> pg_backend_pid()"
        )
        assert killed == [(True,)]
        listener = runner._listener
        assert listener is not None
        deadline = time.monotonic() + 10
        while listener.connected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        (status,) = await runner.status()
        assert status.stalled_reason is None or "cannot hear" in status.stalled_reason
        while not listener.connected and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        assert listener.connected, listener.last_error
        r2 = await writer_store.append(
            "b2",
            [opened_event(balance=2, owner=f"u{2}")],
            expected_version=0,
            stream_type="Wallet",
        )
        await runner.wait_for(r2.position, timeout_s=5)


async def test_stop_start_restart_in_any_order(sql_store: EventStoreBackend) -> None:
    runner = ProjectionRunner(sql_store, [WalletsById()])
    await runner.stop()  # stopping what never ran is fine
    await runner.start()
    await runner.start()  # starting twice too
    r = await sql_store.append(
        "c", [opened_event(owner="u0")], expected_version=0, stream_type="Wallet"
    )
    await runner.wait_for(r.position)
    await runner.stop()
    await runner.stop()
    r = await sql_store.append(
        "d", [opened_event(owner="u0")], expected_version=0, stream_type="Wallet"
    )
    other = ProjectionRunner(sql_store, [WalletsById()])
    await other.start()  # a second runner object takes over where the first stopped
    await other.wait_for(r.position)
    await runner.start()  # and the first one comes back beside it
    r = await sql_store.append(
        "e", [opened_event(owner="u0")], expected_version=0, stream_type="Wallet"
    )
    await runner.wait_for(r.position)
    await other.wait_for(r.position)
    await other.stop()
    await runner.stop()
    assert await WALLETS.count(runner.store) == 3


async def test_stop_finishes_the_batch_in_hand(postgres_url: str) -> None:
    from eskit.projections import Projection, ProjectionContext, handles

    started, release = asyncio.Event(), asyncio.Event()

    class Slow(Projection):
        name = "slow"

        @handles(WalletOpened)
        async def opened(self, event: WalletOpened, ctx: ProjectionContext) -> None:
            started.set()
            await release.wait()

    async with PostgresEventStore.open(postgres_url) as store:
        last = await store.append(
            "s",
            [opened_event(owner="u0")],
            expected_version=0,
            stream_type="Wallet",
        )
        runner = ProjectionRunner(store, [Slow()])
        await runner.start()
        await started.wait()
        stopping = asyncio.ensure_future(runner.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # it waits for the batch in hand
        release.set()
        await stopping
        assert (await runner.store.committed.checkpoints.get("slow")).position >= last.position


async def test_sqlite_runner_hears_other_writers(tmp_path: Path) -> None:
    from eskit.store import SQLiteEventStore

    path = tmp_path / "shared.db"
    async with (
        SQLiteEventStore.open(path) as reader_store,
        SQLiteEventStore.open(path) as writer_store,  # its signal is not the runner's
        ProjectionRunner(reader_store, [WalletsById()], poll_interval_s=60) as runner,
    ):
        for n in range(3):
            done = await writer_store.append(
                f"w{n}",
                [opened_event(balance=n, owner=f"u{n}")],
                expected_version=0,
                stream_type="Wallet",
            )
            await runner.wait_for(done.position, timeout_s=5)


async def test_a_runner_that_only_observes_reports_events_nobody_handles(
    sql_store: EventStoreBackend,
) -> None:
    """Not started here (a web process beside a worker): while the worker runs, the waiting
    events are only catching up; with no worker, once they and the checkpoint are older than
    ``stall_after_s``, the projection is stalled, and says why."""
    observer = ProjectionRunner(sql_store, [WalletsById()], stall_after_s=0.3)
    async with ProjectionRunner(sql_store, [WalletsById()]) as worker:
        done = await sql_store.append(
            "a", [opened_event(owner="u0")], expected_version=0, stream_type="Wallet"
        )
        await worker.wait_for(done.position, timeout_s=5)
    (status,) = await observer.status()
    assert (status.state, status.position) == ("live", done.position)
    await asyncio.sleep(0.4)  # the checkpoint's last move is now older than stall_after_s
    await sql_store.append(
        "b", [opened_event(owner="u1")], expected_version=0, stream_type="Wallet"
    )
    (status,) = await observer.status()
    assert status.state == "catching_up"
    state = await _state(observer, "stalled")
    assert state.startswith("stalled"), state
    assert "(is a worker running?)" in state
