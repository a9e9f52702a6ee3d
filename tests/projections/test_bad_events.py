"""Bad events in the log stop a projection at the event, visibly, until parked."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from eskit.projections import Projection, ProjectionContext, ProjectionRunner, handles
from eskit.projections.dead_letters import park
from eskit.store import EventStoreBackend
from tests.projections.support import opened_event
from tests.wallets.domain import WalletOpened
from tests.wallets.projections import WALLETS, WalletsById

pytestmark = pytest.mark.integration


async def _insert_raw(runner: ProjectionRunner, stream_id: str, data: str) -> None:
    """Write an event with ``data`` as its JSON, bypassing every check of the store."""

    async with runner.store.transaction() as tx:
        if tx.sql.placeholder == "?":  # SQLite
            await tx.sql.execute(
                "INSERT INTO eskit_events (stream_id, stream_type, version, event_id, event_type, "
                "schema_version, data, metadata, recorded_at) VALUES (?, 'Wallet', 1, ?, "
                "'wallets.WalletOpened', 1, ?, '{}', '2026-01-01T00:00:00.000000+00:00')",
                (stream_id, str(uuid.uuid4()), data),
            )
        else:
            await tx.sql.execute(
                "INSERT INTO eskit_events (position, stream_id, stream_type, version, event_id, "
                "event_type, schema_version, data, metadata, recorded_at) VALUES "
                "((pg_current_xact_id()::text::bigint << 16) + 1, %s, 'Wallet', 1, %s, "
                "'wallets.WalletOpened', 1, %s::jsonb, '{}', now())",
                (stream_id, uuid.uuid4(), data),
            )


async def test_event_that_does_not_fit_its_class(sql_store: EventStoreBackend) -> None:
    runner = ProjectionRunner(sql_store, [WalletsById()], retry_backoff_s=0.01)
    await runner.prepare()
    await sql_store.append(
        "good-1",
        [opened_event(balance=5, owner="a")],
        expected_version=0,
        stream_type="Wallet",
    )
    await _insert_raw(runner, "broken", '{"owner": 42}')
    last = await sql_store.append(
        "good-2",
        [opened_event(balance=5, owner="a")],
        expected_version=0,
        stream_type="Wallet",
    )
    async with runner:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            (status,) = await runner.status()
            # the status says "failing" a moment before the error is stored, where park reads it
            stored = await runner.store.committed.checkpoints.get(WalletsById.name)
            failing = status.state == "failing" and stored.error_position is not None
            if failing or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        assert status.state == "failing"
        assert status.error is not None
        assert "EventSchemaError" in status.error
        assert "broken" in status.error
        assert await WALLETS.get(runner.store, "good-1") is not None
        assert await WALLETS.get(runner.store, "good-2") is None
        letter = await park(runner.store, "wallets_by_id")
        assert letter.stream_id == "broken"
        await runner.wait_for(last.position, timeout_s=30)
        assert await WALLETS.get(runner.store, "good-2") is not None
        assert await WALLETS.get(runner.store, "broken") is None


class _Sleeper(Projection):
    name = "sleeper"

    @handles(WalletOpened)
    async def opened(self, event: WalletOpened, ctx: ProjectionContext) -> None:
        await asyncio.sleep(0)


async def test_handler_that_awaits_other_io_still_commits_its_batch(
    sql_store: EventStoreBackend,
) -> None:
    result = await sql_store.append("x", [opened_event(balance=5, owner="a")], expected_version=0)
    runner = ProjectionRunner(sql_store, [_Sleeper()])
    await runner.prepare()

    await runner.catch_up()

    assert runner.worker(_Sleeper.name).position == result.position
