"""SQLite specifics: durability settings, checkpoints, group commit, migrations."""

import asyncio
import sqlite3
from pathlib import Path

import pytest

from eskit.domain import Event
from eskit.store import NO_STREAM, SQLiteEventStore

pytestmark = pytest.mark.integration


class Noted(Event):
    n: int


async def test_the_store_is_durable_by_default(tmp_path: Path) -> None:
    async with SQLiteEventStore.open(tmp_path / "e.db") as store:
        conn = store._reader_pool.submit(store._reader).result()  # type: ignore[union-attr]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL


def wal_size(path: Path) -> int:
    return Path(f"{path}-wal").stat().st_size


async def test_checkpoint_moves_the_log_into_the_file(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    async with SQLiteEventStore.open(path) as store:
        await store.append("s", [Noted(n=n) for n in range(500)], expected_version=NO_STREAM)
        assert wal_size(path) > 0
        await store.checkpoint()
        assert wal_size(path) == 0
        assert await store.stream_version("s") == 500


async def test_concurrent_appends_share_commits_and_each_lands(tmp_path: Path) -> None:
    path = tmp_path / "e.db"
    async with SQLiteEventStore.open(path) as store:
        await asyncio.gather(
            *(store.append(f"s{n}", [Noted(n=n)], expected_version=NO_STREAM) for n in range(200))
        )
    with sqlite3.connect(path) as conn:
        assert conn.execute("SELECT count(DISTINCT stream_id) FROM eskit_events").fetchone() == (
            200,
        )


async def test_sqlite_migrate_on_a_new_file_applies_every_migration_once(tmp_path: Path) -> None:
    async with SQLiteEventStore.open(tmp_path / "fresh.db", migrate=False) as fresh:
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
