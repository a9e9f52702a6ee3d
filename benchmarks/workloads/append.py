"""Workloads 1 and 2: append throughput, one event per append or 100 per append.

Each sample runs for a fixed time. Every writer appends to a stream of its own, always
with the exact expected version it knows (eskit) or the next version number (raw: the
unique (stream_id, version) key is the check; eventsourcing: its primary key). eskit runs
its writers as asyncio tasks over one store (a pool of 16 connections); raw and
eventsourcing are synchronous, so they run one thread per writer, each on a connection of
its own. Raw and eventsourcing commit one transaction per append; eskit's appends are each
atomic, and the store may let concurrent ones share a commit (its group commit).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

from bank_accounts import MoneyDeposited
from contenders.eventsourcing_peer import EsBank, deposits, postgres_env, sqlite_env
from contenders.raw_sql import (
    DEPOSITED,
    PG_INSERT,
    RawSQLite,
    pg_connect,
    pg_create_table,
    rows_for,
)
from eskit.store import SQLiteEventStore
from eskit.store.port import EventStore
from eskit.store.postgres import PostgresEventStore
from harness.postgres_server import Cluster
from harness.progress import note
from harness.results import Backend, Role, Row
from harness.settings import Settings
from harness.timing import Loop, check_stop, rotated, timed_threads
from workloads.account_events import STREAM_TYPE, deposit_data

__all__ = ["run"]

POOL = 16


class Contender(Protocol):
    label: str
    role: Role

    def run(self, writers: int, seconds: float, batch: int) -> float:
        """Events/s of ``writers`` writers appending ``batch`` events a time for ``seconds``."""
        ...


class Eskit:
    role: Role = "eskit"

    def __init__(self, label: str, loop: Loop, store: EventStore) -> None:
        self.label = label
        self.loop = loop
        self.store = store

    def run(self, writers: int, seconds: float, batch: int) -> float:
        # event objects are immutable and get their ids when appended: one set serves all
        events = [MoneyDeposited(**deposit_data(v)) for v in range(batch)]
        return self.loop.run(self._run(writers, seconds, events))

    async def _run(self, writers: int, seconds: float, events: list[MoneyDeposited]) -> float:
        store = self.store
        deadline = time.perf_counter() + seconds

        async def writer() -> int:
            stream_id = f"acct-{uuid.uuid4().hex}"
            version = 0
            while time.perf_counter() < deadline:
                check_stop()
                result = await store.append(
                    stream_id, events, expected_version=version, stream_type=STREAM_TYPE
                )
                version = result.version
            return version

        started = time.perf_counter()
        written = await asyncio.gather(*(writer() for _ in range(writers)))
        return sum(written) / (time.perf_counter() - started)


def _raw_items(batch: int) -> list[tuple[str, dict[str, Any]]]:
    return [(DEPOSITED, deposit_data(v)) for v in range(batch)]


class RawPostgres:
    role: Role = "raw"
    label = "raw psycopg"

    def __init__(self, url: str, stack: ExitStack) -> None:
        pg_create_table(url)
        self.conns = [stack.enter_context(pg_connect(url)) for _ in range(POOL)]

    def run(self, writers: int, seconds: float, batch: int) -> float:
        items = _raw_items(batch)

        def work(index: int) -> int:
            conn = self.conns[index]
            stream_id = f"acct-{uuid.uuid4().hex}"
            deadline = time.perf_counter() + seconds
            version = 0
            while time.perf_counter() < deadline:
                check_stop()
                rows = rows_for(stream_id, version + 1, items)  # JSON and ids per command
                if len(rows) == 1:
                    conn.execute(PG_INSERT, rows[0])
                else:
                    with conn.transaction(), conn.cursor() as cur:
                        cur.executemany(PG_INSERT, rows)
                version += len(rows)
            return version

        elapsed, written = timed_threads(writers, work)
        return written / elapsed


class RawSQLiteWriters:
    role: Role = "raw"
    label = "raw sqlite3"

    def __init__(self, path: Path, stack: ExitStack) -> None:
        self.db = RawSQLite(path)
        stack.callback(self.db.close)

    def run(self, writers: int, seconds: float, batch: int) -> float:
        items = _raw_items(batch)

        def work(index: int) -> int:
            stream_id = f"acct-{uuid.uuid4().hex}"
            deadline = time.perf_counter() + seconds
            version = 0
            while time.perf_counter() < deadline:
                check_stop()
                self.db.insert(rows_for(stream_id, version + 1, items))
                version += len(items)
            return version

        elapsed, written = timed_threads(writers, work)
        return written / elapsed


class EventSourcing:
    role: Role = "peer"
    label = "eventsourcing 9.5"

    def __init__(self, env: dict[str, str], stack: ExitStack) -> None:
        self.app = EsBank(env=env)
        stack.callback(self.app.close)

    def run(self, writers: int, seconds: float, batch: int) -> float:
        put: Callable[[list[Any]], Any] = self.app.events.put

        def work(index: int) -> int:
            # its events carry their version: made per append (~2 us each, as `save` would)
            originator_id = uuid.uuid4()
            deadline = time.perf_counter() + seconds
            version = 0
            while time.perf_counter() < deadline:
                check_stop()
                put(deposits(originator_id, version + 1, batch))
                version += batch
            return version

        elapsed, written = timed_threads(writers, work)
        return written / elapsed


def _contenders(
    backend: Backend, cluster: Cluster | None, tmp: Path, stack: ExitStack, tag: str
) -> list[Contender]:
    loop = Loop()
    stack.callback(loop.close)
    if backend == "postgres":
        assert cluster is not None
        store_url = stack.enter_context(cluster.eskit_database())
        pg_store = PostgresEventStore(store_url, min_connections=POOL, max_connections=POOL)
        loop.run(pg_store.start())
        stack.callback(lambda: loop.run(pg_store.close()))
        raw_url = stack.enter_context(cluster.empty_database())
        es_url = stack.enter_context(cluster.empty_database())
        return [
            Eskit("eskit", loop, pg_store),
            RawPostgres(raw_url, stack),
            EventSourcing(postgres_env(es_url, pool_size=POOL), stack),
        ]
    sqlite_store = SQLiteEventStore(tmp / f"{tag}-eskit.db")
    loop.run(sqlite_store.start())
    stack.callback(lambda: loop.run(sqlite_store.close()))
    return [
        Eskit("eskit", loop, sqlite_store),
        RawSQLiteWriters(tmp / f"{tag}-raw.db", stack),
        EventSourcing(sqlite_env(tmp / f"{tag}-es.db"), stack),
    ]


def run(
    settings: Settings,
    backend: Backend,
    cluster: Cluster | None,
    tmp: Path,
    out: list[Row],
    *,
    batch: bool,
) -> None:
    """Workload 1 (``batch=False``) or 2 (``batch=True``) on one backend."""
    workload = "batch x100" if batch else "append x1"
    size = settings.batch_size if batch else 1
    configurations = settings.batch_writers if batch else settings.writers
    with ExitStack() as stack:
        contenders = _contenders(backend, cluster, tmp, stack, "batch" if batch else "append")
        rows: dict[tuple[int, str], Row] = {}
        for writers in configurations:
            for c in contenders:
                case = f"{writers} writer" + ("s" if writers > 1 else "")
                rows[writers, c.label] = Row(workload, backend, case, c.label, c.role, "ev/s")
        out.extend(rows.values())  # filled in as samples come: an interruption keeps them
        for c in contenders:  # warm up: connections, prepared statements, caches
            c.run(max(configurations), 0.2, size)
        for sample in range(settings.samples):
            for writers in configurations:
                for c in rotated(contenders, sample + writers):
                    rate = c.run(writers, settings.append_seconds, size)
                    rows[writers, c.label].samples.append(rate)
            note(f"{backend} {workload}: round {sample + 1}/{settings.samples} done")
