"""Workload 4: read the whole log of 100,000 events in global order, events/s.

Preload: 100 streams of 1,000 events (AccountOpened + 999 MoneyDeposited) per contender,
written in big batches (eskit: one ``append`` per stream; raw: COPY; eventsourcing: one
``events.put`` per stream). Then, per contender, a first untimed scan warms the caches.

* eskit: ``async for event in store.read_all(batch_size=b)`` for a few ``b``, reading
  every field of each event (``position, stream_id, stream_type, version, event_id,
  event_type, schema_version, data, metadata, recorded_at``): a ``StoredEvent`` decodes
  its id, data, metadata and time only when first asked, and raw decodes every field of
  every row, so the scan asks for all of them and both do the same decoding;
* raw: keyset pages ``WHERE position > %s ORDER BY position LIMIT %s`` of the same
  columns, decoded into the same Python values (psycopg + orjson; sqlite3 + orjson, with
  ids and times parsed as psycopg's loaders do); best page size shown;
* eventsourcing: ``recorder.select_notifications`` page after page, each state decoded
  with the application's transcoder (JSON); best page size shown.
"""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from bank_accounts import AccountOpened, MoneyDeposited
from contenders.eventsourcing_peer import EsBank, deposits, new_account, postgres_env, sqlite_env
from contenders.raw_sql import (
    DEPOSITED,
    OPENED,
    RawSQLite,
    checkpoint_file,
    pg_bulk_insert,
    pg_connect,
    pg_create_table,
    rows_for,
)
from eskit.domain.events import Event
from eskit.store import SQLiteEventStore
from eskit.store.port import EventStore
from eskit.store.postgres import PostgresEventStore
from harness.postgres_server import Cluster
from harness.progress import note
from harness.results import Backend, Role, Row
from harness.settings import Settings
from harness.timing import Loop, check_stop, rotated
from workloads.account_events import STREAM_TYPE, deposit_data, opened_data

__all__ = ["run"]

STREAM_LENGTH = 1_000

Scan = Callable[[int], int]
"""Reads the whole log in batches of the given size; returns the number of events."""


class Contender:
    def __init__(self, label: str, role: Role, scan: Scan, batches: tuple[int, ...]) -> None:
        self.label = label
        self.role = role
        self.scan = scan
        self.batches = batches


# -- eskit --


def _eskit(loop: Loop, store: EventStore, total: int, batches: tuple[int, ...]) -> Contender:
    events: list[Event] = [AccountOpened(**opened_data(0))]
    events += [MoneyDeposited(**deposit_data(v)) for v in range(1, STREAM_LENGTH)]

    async def preload() -> None:
        for _ in range(total // STREAM_LENGTH):
            await store.append(
                f"acct-{uuid.uuid4().hex}", events, expected_version=0, stream_type=STREAM_TYPE
            )

    async def scan(batch_size: int) -> int:
        count = 0
        async for e in store.read_all(batch_size=batch_size):
            # every field, as raw decodes every column: the lazy ones are decoded here
            _ = (
                e.position,
                e.stream_id,
                e.stream_type,
                e.version,
                e.event_id,
                e.event_type,
                e.schema_version,
                e.data,
                e.metadata,
                e.recorded_at,
            )
            count += 1
        return count

    loop.run(preload())
    return Contender("eskit", "eskit", lambda b: loop.run(scan(b)), batches)


# -- raw --

_RAW_PAGE = (
    "SELECT position, stream_id, stream_type, version, event_id, event_type, schema_version, "
    "data, metadata, recorded_at FROM raw_events WHERE position > {mark} "
    "ORDER BY position LIMIT {mark}"
)


def _raw_rows(total: int) -> Iterator[Any]:
    items = [(OPENED, opened_data(0))] + [
        (DEPOSITED, deposit_data(v)) for v in range(1, STREAM_LENGTH)
    ]
    for _ in range(total // STREAM_LENGTH):
        yield from rows_for(f"acct-{uuid.uuid4().hex}", 1, items)


def _raw_postgres(url: str, stack: ExitStack, total: int, batches: tuple[int, ...]) -> Contender:
    pg_create_table(url)
    conn = stack.enter_context(pg_connect(url))
    pg_bulk_insert(conn, _raw_rows(total))
    conn.execute("VACUUM ANALYZE raw_events")
    sql = _RAW_PAGE.format(mark="%s")

    def scan(page: int) -> int:
        count, after = 0, 0
        while True:
            rows = conn.execute(sql, (after, page)).fetchall()
            count += len(rows)
            if len(rows) < page:
                return count
            after = rows[-1][0]

    return Contender("raw psycopg", "raw", scan, batches)


def _raw_sqlite(path: Path, stack: ExitStack, total: int, batches: tuple[int, ...]) -> Contender:
    db = RawSQLite(path)
    stack.callback(db.close)
    rows = list(_raw_rows(total))
    for start in range(0, len(rows), 10_000):
        db.insert(rows[start : start + 10_000])
    sql = _RAW_PAGE.format(mark="?")
    loads, uuid_, fromiso = orjson.loads, uuid.UUID, datetime.fromisoformat

    def scan(page: int) -> int:
        conn = db.connection()
        count, after = 0, 0
        while True:
            # sqlite3 hands ids and times over as text, where psycopg's own loaders give
            # UUID and datetime objects: decode them too, so both raws deliver the same values
            got = [
                (p, s, st, v, uuid_(e), t, sv, loads(d), loads(m), fromiso(r))
                for p, s, st, v, e, t, sv, d, m, r in conn.execute(sql, (after, page))
            ]
            count += len(got)
            if len(got) < page:
                return count
            after = got[-1][0]

    return Contender("raw sqlite3", "raw", scan, batches)


# -- eventsourcing --


def _eventsourcing(
    env: dict[str, str], stack: ExitStack, total: int, batches: tuple[int, ...]
) -> Contender:
    app = EsBank(env=env)
    stack.callback(app.close)
    for _ in range(total // STREAM_LENGTH):
        account = new_account(0)
        app.events.put([*account.collect_events(), *deposits(account.id, 2, STREAM_LENGTH - 1)])
    recorder: Any = app.recorder
    decode = app.mapper.transcoder.decode

    def scan(page: int) -> int:
        count, start = 0, 1
        while True:
            notifications = recorder.select_notifications(start=start, limit=page)
            for n in notifications:
                decode(n.state)
            count += len(notifications)
            if len(notifications) < page:
                return count
            start = notifications[-1].id + 1

    return Contender("eventsourcing 9.5", "peer", scan, batches)


# -- the workload ---------------------------------------------------------------------------


def run(
    settings: Settings, backend: Backend, cluster: Cluster | None, tmp: Path, out: list[Row]
) -> None:
    total = settings.read_all_events
    eskit_batches = settings.read_all_batches
    other_batches = settings.read_all_other_batches
    with ExitStack() as stack:
        loop = Loop()
        stack.callback(loop.close)
        contenders: list[Contender] = []
        if backend == "postgres":
            assert cluster is not None
            store_url = stack.enter_context(cluster.eskit_database())
            pg_store = PostgresEventStore(store_url)
            loop.run(pg_store.start())
            stack.callback(lambda: loop.run(pg_store.close()))
            contenders.append(_eskit(loop, pg_store, total, eskit_batches))
            _vacuum(store_url, "eskit_events")
            raw_url = stack.enter_context(cluster.empty_database())
            contenders.append(_raw_postgres(raw_url, stack, total, other_batches))
            es_url = stack.enter_context(cluster.empty_database())
            contenders.append(
                _eventsourcing(postgres_env(es_url, pool_size=1), stack, total, other_batches)
            )
            _vacuum(es_url, f"{EsBank.name.lower()}_events")  # its table name
        else:
            sqlite_store = SQLiteEventStore(tmp / "readall-eskit.db")
            loop.run(sqlite_store.start())
            stack.callback(lambda: loop.run(sqlite_store.close()))
            contenders.append(_eskit(loop, sqlite_store, total, eskit_batches))
            contenders.append(_raw_sqlite(tmp / "readall-raw.db", stack, total, other_batches))
            contenders.append(
                _eventsourcing(sqlite_env(tmp / "readall-es.db"), stack, total, other_batches)
            )
            for name in ("readall-eskit.db", "readall-raw.db", "readall-es.db"):
                checkpoint_file(tmp / name)
        note(f"{backend} read-all: {total:,} events written per contender")
        samples: dict[tuple[str, int], list[float]] = {}
        for c in contenders:
            got = c.scan(c.batches[0])  # warm up: caches, hint bits, prepared statements
            assert got == total, (c.label, got, total)
            for b in c.batches:
                samples[c.label, b] = []
        for sample in range(settings.samples):
            for c in rotated(contenders, sample):
                for b in c.batches:
                    check_stop()
                    started = time.perf_counter()
                    got = c.scan(b)
                    samples[c.label, b].append(got / (time.perf_counter() - started))
                    assert got == total, (c.label, got, total)
            note(f"{backend} read-all: round {sample + 1}/{settings.samples} done")
        for c in contenders:
            best = max(c.batches, key=lambda b: statistics.median(samples[c.label, b]))
            for b in c.batches:
                if c.role != "eskit" and b != best:
                    continue
                label = f"{c.label} ({'batch_size' if c.role == 'eskit' else 'pages of'} {b:,})"
                out.append(
                    Row(
                        "read-all",
                        backend,
                        f"{total:,} events",
                        label,
                        c.role,
                        "ev/s",
                        samples[c.label, b],
                        is_reference=c.role != "eskit" or b == best,
                    )
                )


def _vacuum(url: str, table: str) -> None:
    with pg_connect(url) as conn:
        conn.execute(f"VACUUM ANALYZE {table}")
