"""Writers killed with SIGKILL mid-append leave no half-written append behind."""

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from eskit.store import EventStoreBackend, open_store

pytestmark = pytest.mark.integration

WRITER = Path(__file__).with_name("sigkill_writer.py")
ROUNDS = 4


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/killed.db"
    else:
        yield request.getfixturevalue("postgres_url")


def start_writers(url: str, count: int, round_no: int) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, str(WRITER), url, f"r{round_no}w{n}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for n in range(count)
    ]


def kill_after_some_batches(writers: list[subprocess.Popen[str]], rng: random.Random) -> None:
    """Wait until each writer has committed a random number of batches, then SIGKILL it."""
    for proc in writers:
        target = rng.randint(1, 15)
        assert proc.stdout is not None
        for _ in range(target):
            if not proc.stdout.readline():
                raise AssertionError(f"writer exited early with {proc.wait()}")
    for proc in writers:
        os.kill(proc.pid, signal.SIGKILL)
    for proc in writers:
        assert proc.wait(timeout=30) == -signal.SIGKILL


async def assert_only_whole_batches(store: EventStoreBackend) -> int:
    events = [e async for e in store.read_all(batch_size=500)]
    positions = [e.position for e in events]
    assert positions == sorted(set(positions))
    per_batch = Counter((e.data["writer"], e.data["batch"]) for e in events)
    assert set(per_batch.values()) <= {10}, "a killed append left part of its batch"
    by_stream: dict[str, list[int]] = {}
    for e in events:
        by_stream.setdefault(e.stream_id, []).append(e.version)
    for versions in by_stream.values():
        assert versions == list(range(1, len(versions) + 1))
    return len(events)


async def test_sigkilled_writers_leave_only_whole_appends(database_url: str) -> None:
    rng = random.Random(1234)
    async with open_store(database_url, migrate=True):
        pass  # schema first, so the writers do not race to create it
    seen = 0
    for round_no in range(ROUNDS):
        writers = await asyncio.to_thread(start_writers, database_url, 3, round_no)
        await asyncio.to_thread(kill_after_some_batches, writers, rng)
        async with open_store(database_url) as store:
            total = await assert_only_whole_batches(store)
        assert total > seen  # each round added whole batches and lost none
        seen = total
    if database_url.startswith("sqlite"):
        path = database_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
