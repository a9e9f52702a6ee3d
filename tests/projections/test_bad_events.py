"""Bad events in the log stop a projection at the event, visibly, until parked."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from bank_accounts.domain import AccountOpened
from bank_accounts.projections import ACCOUNTS, AccountsById
from eskit.errors import ConfigurationError
from eskit.projections import Projection, ProjectionContext, ProjectionRunner, handles
from eskit.projections.dead_letters import park
from eskit.projections.session import Session
from eskit.store import EventStoreBackend
from tests.projections.support import opened_event

pytestmark = pytest.mark.integration


async def _insert_raw(runner: ProjectionRunner, stream_id: str, data: str) -> None:
    """Write an event with ``data`` as its JSON, bypassing every check of the store."""

    async def work(session: Session) -> None:
        if session.dialect == "sqlite":
            await session.execute(
                "INSERT INTO eskit_events (stream_id, stream_type, version, event_id, event_type, "
                "schema_version, data, metadata, recorded_at) VALUES (?, 'BankAccount', 1, ?, "
                "'bank_accounts.AccountOpened', 1, ?, '{}', '2026-01-01T00:00:00.000000+00:00')",
                (stream_id, str(uuid.uuid4()), data),
            )
        else:
            await session.execute(
                "INSERT INTO eskit_events (position, stream_id, stream_type, version, event_id, "
                "event_type, schema_version, data, metadata, recorded_at) VALUES "
                "((pg_current_xact_id()::text::bigint << 16) + 1, %s, 'BankAccount', 1, %s, "
                "'bank_accounts.AccountOpened', 1, %s::jsonb, '{}', now())",
                (stream_id, uuid.uuid4(), data),
            )

    await runner.db.transaction(work)


async def test_event_that_does_not_fit_its_class(sql_store: EventStoreBackend) -> None:
    runner = ProjectionRunner(sql_store, [AccountsById()], retry_backoff_s=0.01)
    await runner.prepare()
    await sql_store.append(
        "good-1",
        [opened_event(balance=5, email="a@example.com")],
        expected_version=0,
        stream_type="BankAccount",
    )
    await _insert_raw(runner, "broken", '{"email": 42}')
    last = await sql_store.append(
        "good-2",
        [opened_event(balance=5, email="a@example.com")],
        expected_version=0,
        stream_type="BankAccount",
    )
    async with runner:
        deadline = asyncio.get_running_loop().time() + 30
        while True:
            (status,) = await runner.status()
            if status.state == "failing" or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.02)
        assert status.state == "failing"
        assert status.error is not None
        assert "EventSchemaError" in status.error
        assert "broken" in status.error
        assert await ACCOUNTS.get(runner.db, "good-1") is not None
        assert await ACCOUNTS.get(runner.db, "good-2") is None
        letter = await park(runner.db, "bank_accounts_by_id")
        assert letter.stream_id == "broken"
        await runner.wait_for(last.position, timeout_s=30)
        assert await ACCOUNTS.get(runner.db, "good-2") is not None
        assert await ACCOUNTS.get(runner.db, "broken") is None


class _Sleeper(Projection):
    name = "sleeper"

    @handles(AccountOpened)
    async def opened(self, event: AccountOpened, ctx: ProjectionContext) -> None:
        await asyncio.sleep(0)


async def test_sqlite_handler_that_awaits_io_is_refused_clearly(tmp_path: object) -> None:
    from pathlib import Path

    from eskit.store import SQLiteEventStore

    async with SQLiteEventStore.open(Path(str(tmp_path)) / "e.db") as store:
        await store.append(
            "x", [opened_event(balance=5, email="a@example.com")], expected_version=0
        )
        runner = ProjectionRunner(store, [_Sleeper()])
        await runner.prepare()
        with pytest.raises(ConfigurationError, match="may only await the session"):
            await runner.catch_up()
