"""Workload 6: how long after an append commits its event shows in a read model.

A writer appends one MoneyDeposited at a time, at a steady 200 appends/s (each due at
``start + i / 200``), round-robin over 100 accounts, for 20 s (quick: 5 s), while the
bank-account service's projections run (``bank_accounts.projections:projections``:
``AccountsById``, whose documents are timed, and ``AccountSearch``):

* PostgreSQL: in a process of its own, ``eskit projections run --database-url URL
  --projections bank_accounts.projections:projections``, as production runs it. The
  writer's store notifies after its commits; the runner's listener hears the NOTIFY and
  wakes the projection, which otherwise would poll every second: the latencies show
  which of the two woke it;
* SQLite: in the writer's process, on the same store object, whose commits wake the
  runner directly; and as a process of its own, which hears of other processes' commits
  through the file's ``PRAGMA data_version``, read every 10 ms.

Latency of an append: from ``append`` returning (committed) until the projection's
checkpoint, which moves in the transaction that writes the documents, is at or past the
append's position. A thread of the benchmark reads the checkpoint every millisecond on a
connection of its own (measurement polling: the runner itself waits for wake-ups), so
each figure is late by up to about 1 ms. Shown: p50, p90, p99 and max over every append
of the run; min-max are the same percentile in each of the run's fifths (thirds when
quick).
"""

from __future__ import annotations

import asyncio
import math
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import psycopg

from bank_accounts import MoneyDeposited
from bank_accounts.projections import AccountsById, projections
from eskit.projections.runner import ProjectionRunner
from eskit.store import SQLiteEventStore
from eskit.store.port import EventStoreBackend
from eskit.store.postgres import PostgresEventStore
from harness.postgres_server import Cluster
from harness.progress import note
from harness.results import Backend, Row, percentile
from harness.settings import Settings
from harness.timing import Loop, check_stop
from workloads.account_events import STREAM_TYPE, account_events, deposit_data

__all__ = ["ACCOUNTS", "PERCENTILES", "run"]

ACCOUNTS = 100
"""Accounts the writer takes turns on (each opened before the run)."""
PERCENTILES = (("p50", 0.50), ("p90", 0.90), ("p99", 0.99), ("max", 1.0))
PROJECTIONS = "bank_accounts.projections:projections"
POLL_S = 0.001
"""How often the measuring thread reads the checkpoint."""
_SETTLE_S = 10.0
"""How long the runner may take to reach the last append once the writer stops."""

Commit = tuple[float, int]
"""(perf_counter when ``append`` returned, the append's position)."""
ReadPosition = Callable[[], int]


# -- the writer -----------------------------------------------------------------------------


async def open_accounts(store: EventStoreBackend) -> tuple[list[str], int]:
    """The accounts the writer deposits to, each opened; returns them and the last position."""
    streams, position = [], 0
    for index in range(ACCOUNTS):
        stream = f"lat-{index:04d}"
        opened = account_events(index, 1)
        result = await store.append(stream, opened, expected_version=0, stream_type=STREAM_TYPE)
        streams.append(stream)
        position = result.position
    return streams, position


async def write(
    store: EventStoreBackend, streams: list[str], rate: int, seconds: float
) -> list[Commit]:
    """One deposit per append at ``rate`` appends/s for ``seconds``; every commit's time."""
    events = [MoneyDeposited(**deposit_data(v)) for v in range(2, 1_000)]
    versions = dict.fromkeys(streams, 1)
    commits: list[Commit] = []
    count = int(rate * seconds)
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if i % rate == 0:
            check_stop()
        stream = streams[i % len(streams)]
        version = versions[stream]
        result = await store.append(
            stream,
            [events[version % len(events)]],
            expected_version=version,
            stream_type=STREAM_TYPE,
        )
        commits.append((time.perf_counter(), result.position))
        versions[stream] = result.version
    return commits


# -- the measuring thread -------------------------------------------------------------------


class Watcher:
    """Reads the checkpoint every ``POLL_S`` on a connection of its own, remembering when
    it was first seen at each new position."""

    def __init__(self, read: ReadPosition, close: Callable[[], None]) -> None:
        self._read = read
        self._close = close
        self.seen: list[tuple[float, int]] = []
        self.position = 0
        self.reads = 0
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="latency-watcher", daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._close()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                position = self._read()
                now = time.perf_counter()
                self.reads += 1
                if position != self.position:
                    self.position = position
                    self.seen.append((now, position))
                time.sleep(POLL_S)
        except BaseException as exc:
            self._error = exc

    async def reach(self, position: int, timeout_s: float) -> None:
        """Wait (without blocking the loop) until the checkpoint is at ``position``."""
        deadline = time.monotonic() + timeout_s
        while self.position < position:
            if self._error is not None:
                raise self._error
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"the projection is at {self.position}, not {position}, after {timeout_s} s"
                )
            await asyncio.sleep(0.01)


def pg_watcher(url: str) -> Watcher:
    conn = psycopg.connect(url, autocommit=True)
    sql = "SELECT position FROM eskit_checkpoints WHERE name = %s"
    params = (AccountsById.name,)

    def read() -> int:
        row = conn.execute(sql, params, prepare=True).fetchone()
        return int(row[0]) if row else 0

    return Watcher(read, conn.close)


def sqlite_watcher(path: Path) -> Watcher:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    sql = "SELECT position FROM eskit_checkpoints WHERE name = ?"
    params = (AccountsById.name,)

    def read() -> int:
        row = conn.execute(sql, params).fetchone()
        return int(row[0]) if row else 0

    return Watcher(read, conn.close)


def latencies(commits: list[Commit], seen: list[tuple[float, int]]) -> list[float]:
    """Milliseconds from each commit until the checkpoint was first seen at or past it."""
    result, k = [], 0
    for committed, position in commits:  # positions grow with time, so one pass does
        while seen[k][1] < position:
            k += 1
        result.append(max(0.0, seen[k][0] - committed) * 1000)
    return result


# -- the runner as a process of its own ----------------------------------------------------


@contextmanager
def runner_process(url: str, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``eskit projections run`` for the bank-account projections, its output going to
    ``log`` (in whose folder it runs); stopped with SIGTERM."""
    command = [
        sys.executable,
        "-c",
        "import sys; from eskit.cli.main import main; sys.exit(main())",
        "projections",
        "run",
        "--database-url",
        url,
        "--projections",
        PROJECTIONS,
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ESKIT_")}
    with log.open("wb") as output:
        proc = subprocess.Popen(command, cwd=log.parent, env=env, stdout=output, stderr=output)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _check_alive(proc: subprocess.Popen[bytes], log: Path) -> None:
    if proc.poll() is not None:
        output = log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"eskit projections run exited with {proc.returncode}: {output}")


async def _ready(proc: subprocess.Popen[bytes], log: Path, watcher: Watcher, position: int) -> None:
    """Wait until the runner process has handled the opening events (it is listening by
    then: the runner starts its projections only once LISTEN is in place)."""
    deadline = time.monotonic() + 60
    while watcher.position < position:
        _check_alive(proc, log)
        if time.monotonic() > deadline:
            raise TimeoutError("the runner process did not catch up within 60 s")
        await asyncio.sleep(0.05)


# -- the workload ---------------------------------------------------------------------------


class Result:
    def __init__(self, label: str, poll_s: float, commits: list[Commit], ms: list[float]) -> None:
        self.label = label
        self.poll_s = poll_s
        self.commits = commits
        self.ms = ms


def _measure_process(
    loop: Loop, store: EventStoreBackend, url: str, watcher: Watcher, settings: Settings, cwd: Path
) -> tuple[list[Commit], list[float]]:
    log = cwd / "latency-runner.log"

    async def go(proc: subprocess.Popen[bytes]) -> tuple[list[Commit], list[float]]:
        streams, opened = await open_accounts(store)
        await _ready(proc, log, watcher, opened)
        commits = await write(store, streams, settings.latency_rate, settings.latency_seconds)
        await watcher.reach(commits[-1][1], _SETTLE_S)
        return commits, latencies(commits, watcher.seen)

    with runner_process(url, log) as proc:
        return loop.run(go(proc))


def _measure_in_process(
    loop: Loop, store: EventStoreBackend, watcher: Watcher, settings: Settings
) -> tuple[list[Commit], list[float], float]:
    async def go() -> tuple[list[Commit], list[float], float]:
        async with ProjectionRunner(store, projections()) as runner:
            streams, opened = await open_accounts(store)
            await watcher.reach(opened, 60)
            commits = await write(store, streams, settings.latency_rate, settings.latency_seconds)
            await watcher.reach(commits[-1][1], _SETTLE_S)
            return commits, latencies(commits, watcher.seen), runner.poll_interval_s

    return loop.run(go())


def run(
    settings: Settings, backend: Backend, cluster: Cluster | None, tmp: Path, out: list[Row]
) -> None:
    results: list[Result] = []
    with ExitStack() as stack:
        loop = Loop()
        stack.callback(loop.close)
        if backend == "postgres":
            assert cluster is not None
            url = stack.enter_context(cluster.eskit_database())
            store: Any = PostgresEventStore(url)  # notifies after its commits (the default)
            loop.run(store.start())
            stack.callback(lambda: loop.run(store.close()))
            with pg_watcher(url) as watcher:
                commits, ms = _measure_process(loop, store, url, watcher, settings, tmp)
            poll = ProjectionRunner(store, []).poll_interval_s
            results.append(Result("eskit runner process", poll, commits, ms))
        else:
            # in the writer's process, on the writer's store object
            path = tmp / "latency-inprocess.db"
            store = SQLiteEventStore(path)
            loop.run(store.start())
            stack.callback(lambda: loop.run(store.close()))
            with sqlite_watcher(path) as watcher:
                commits, ms, poll = _measure_in_process(loop, store, watcher, settings)
            results.append(Result("eskit runner in-process", poll, commits, ms))
            # a process of its own: it sees the writer's commits in the file's data_version
            path = tmp / "latency-process.db"
            other = SQLiteEventStore(path)
            loop.run(other.start())
            stack.callback(lambda: loop.run(other.close()))
            with sqlite_watcher(path) as watcher:
                commits, ms = _measure_process(
                    loop, other, f"sqlite:///{path}", watcher, settings, tmp
                )
            poll = ProjectionRunner(other, []).poll_interval_s
            results.append(Result("eskit runner process", poll, commits, ms))
    for result in results:
        _rows(settings, backend, result, out)


def _rows(settings: Settings, backend: Backend, result: Result, out: list[Row]) -> None:
    commits, ms = result.commits, result.ms
    seconds = commits[-1][0] - commits[0][0]
    rate = (len(commits) - 1) / seconds if seconds > 0 else 0.0
    note(
        f"{backend} latency ({result.label}): {len(ms):,} appends at {rate:,.0f}/s, "
        f"p50 {percentile(ms, 0.5):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )
    parts = settings.samples
    size = math.ceil(len(ms) / parts)
    chunks = [ms[i : i + size] for i in range(0, len(ms), size)]
    label = f"{result.label} (poll {result.poll_s:g} s)"
    for name, q in PERCENTILES:
        out.append(
            Row(
                "latency",
                backend,
                f"{name}, {len(ms):,} at {settings.latency_rate}/s",
                label,
                "eskit",
                "ms",
                [percentile(chunk, q) for chunk in chunks],
                value=percentile(ms, q),
            )
        )
