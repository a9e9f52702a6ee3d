"""PostgreSQL adapter behaviour that the shared contract suite cannot set up."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import psycopg
import pytest

from eskit.domain.events import Event
from eskit.store import NO_STREAM, Snapshot
from eskit.store.postgres import PostgresEventStore
from eskit.testing.postgres import PostgresServer

pytestmark = pytest.mark.integration


class Happened(Event):
    n: int


@pytest.fixture
async def store_in_india(postgres_url: str) -> AsyncIterator[PostgresEventStore]:
    """A store on a database whose sessions default to a time zone other than UTC."""
    async with await psycopg.AsyncConnection.connect(postgres_url, autocommit=True) as conn:
        await conn.execute(f"ALTER DATABASE {conn.info.dbname} SET timezone TO 'Asia/Kolkata'")
    async with PostgresEventStore.open(postgres_url) as store:
        yield store


async def test_recorded_at_is_utc_whatever_the_session_time_zone(
    store_in_india: PostgresEventStore,
) -> None:
    await store_in_india.append("s", [Happened(n=1)], expected_version=NO_STREAM)

    (event,) = await store_in_india.read_stream("s")

    assert event.recorded_at.utcoffset() == timedelta(0)


async def test_stream_times_are_utc_whatever_the_session_time_zone(
    store_in_india: PostgresEventStore,
) -> None:
    await store_in_india.append("s", [Happened(n=1)], expected_version=NO_STREAM)

    (info,) = await store_in_india.list_streams()

    assert info.created_at.utcoffset() == info.updated_at.utcoffset() == timedelta(0)


async def test_snapshot_time_is_utc_whatever_the_session_time_zone(
    store_in_india: PostgresEventStore,
) -> None:
    await store_in_india.save_snapshot(Snapshot("s", "t", 1, 1, {}))

    snapshot = await store_in_india.load_snapshot("s")

    assert snapshot is not None
    assert snapshot.recorded_at is not None
    assert snapshot.recorded_at.utcoffset() == timedelta(0)


async def test_concurrent_appends_to_distinct_streams_share_statements(postgres_url: str) -> None:
    async with PostgresEventStore.open(postgres_url, max_connections=4) as store:
        await asyncio.gather(
            *(store.append(f"s{n}", [Happened(n=n)], expected_version=NO_STREAM) for n in range(64))
        )
        combiner = store._combiner
        assert combiner is not None
        assert combiner.appends == 64
        assert combiner.statements < 64
        assert len([e async for e in store.read_all()]) == 64


async def test_postgres_migrate_on_an_empty_database_applies_every_migration_once(
    postgres_server: PostgresServer,
) -> None:
    with postgres_server.database(migrated=False) as url:
        async with PostgresEventStore.open(url) as fresh:
            applied = await fresh.migrate()
            again = await fresh.migrate()

    assert applied == [
        "0001_events_and_snapshots",
        "0002_checkpoints_and_dead_letters",
        "0003_command_outcomes",
        "0004_processed_messages",
        "0005_consumer_streams",
        "0006_command_queue_and_sagas",
        "0007_leases",
        "0008_stream_type_starts",
    ]
    assert again == []
