"""Workload 5: projection catch-up, events/s, from position 0 to the end of the log.

The projection is the bank-account service's ``AccountsById`` (one document per account in
the ``bank_accounts_by_id`` document collection, written in the store's own database). The
log (see ``workloads.account_events.account_event``): N accounts of 100 events each, an
AccountOpened then deposits, every fifth event a withdrawal and every tenth an e-mail
change; 1,000 accounts (100,000 events) in a full run, 200 (20,000) in a quick one.
Before every timed pass the read model and its checkpoint are dropped (untimed); each
pass ends with a check (untimed) that the read model holds exactly one document per
account, each equal, field by field, to the one the log makes: ``account_id``, e-mail,
address, names, balance, currency, status, ``version`` (the last event's), and
``created_at`` / ``updated_at`` (the record times of the first and last events).

* eskit: ``ProjectionRunner(store, [AccountsById()], batch_size=b).catch_up()``: per
  batch, the page read, then one transaction with the batch's documents loaded in one
  query, the events handled (each decoded into its event class), the changed documents
  written back (``executemany`` of updates checked by document version, and of inserts)
  and the checkpoint moved (compare-and-set);
* raw: ``contenders.raw_projection`` (psycopg; sqlite3) on the same database and the same
  log: the same documents, folded and written back the same way (events a document
  already holds skipped; updates checked by document version, inserts that must not
  collide, the checkpoint by compare-and-set), by hand in plain SQL and Python, pages of
  ``b`` events, one transaction per page: the limit;
* eventsourcing 9.5: ``contenders.eventsourcing_projection.eventsourcing_catchup`` on the
  same workload written through the library (PostgreSQL only): its subscription feeding a
  view ``b`` events per transaction; and its own projection runner, which handles one
  event per transaction, once, on a log of its own of 2,000 events (at a few hundred
  events/s, the full log would take minutes). Its view keeps a smaller row per account
  (e-mail, name, balance, currency, position), upserted blindly.

After the preloads the logs' statistics are gathered (``VACUUM ANALYZE``, as autovacuum
does for a log of any age: without them the planner may sort a whole log to read one page)
and the dirty pages written out (``CHECKPOINT``; SQLite: a WAL checkpoint); each contender
runs once untimed before the samples, contenders taking turns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

from bank_accounts.projections import ACCOUNTS, AccountsById, utc_timestamp
from contenders.eventsourcing_projection import eventsourcing_catchup, preload_eventsourcing
from contenders.raw_projection import (
    raw_pg_catchup,
    raw_pg_documents,
    raw_sqlite_catchup,
    raw_sqlite_documents,
    reset_raw_pg,
    reset_raw_sqlite,
)
from contenders.raw_sql import checkpoint_file, pg_connect
from eskit.projections.runner import ProjectionRunner
from eskit.store import SQLiteEventStore, require_transactions
from eskit.store.port import EventStoreBackend
from eskit.store.postgres import PostgresEventStore
from harness.postgres_server import Cluster
from harness.progress import note
from harness.results import Backend, Role, Row
from harness.settings import Settings
from harness.timing import Loop, check_stop, rotated
from workloads.account_events import STREAM_TYPE, expected_document, preload_store, stream_id

__all__ = ["check_documents", "eskit_catchup", "eskit_documents", "expected_documents", "run"]

Body = dict[str, Any]

Pass = Callable[[int], tuple[float, int]]
"""One timed catch-up from position 0 with the given batch size: (seconds, events)."""


class Contender:
    def __init__(self, label: str, role: Role, run: Pass, batches: tuple[int, ...]) -> None:
        self.label = label
        self.role = role
        self.run = run
        self.batches = batches


# -- eskit ----------------------------------------------------------------------------------


async def eskit_catchup(store: EventStoreBackend, batch_size: int) -> tuple[float, int]:
    """Drop the read model and its checkpoint, create it again (untimed), then time
    ``ProjectionRunner.catch_up`` from position 0; returns (seconds, events handled)."""
    async with require_transactions(store, "the catch-up").transaction() as tx:
        await tx.schema.drop(ACCOUNTS.name)
        await tx.checkpoints.delete(AccountsById.name)
    runner = ProjectionRunner(store, [AccountsById()], batch_size=batch_size, listen=False)
    await runner.prepare()
    started = time.perf_counter()
    await runner.catch_up()
    seconds = time.perf_counter() - started
    return seconds, runner.worker(AccountsById.name).events_handled


async def expected_documents(
    store: EventStoreBackend, n_accounts: int, events_per_account: int
) -> dict[str, Body]:
    """Every account's document once caught up, by id: the fields of
    ``account_events.expected_document`` with the record times of the stream's first and
    last events, read from the log once (untimed)."""
    sql = require_transactions(store, "the catch-up check").committed.sql
    mark = sql.placeholder
    rows = await sql.fetch(
        "SELECT stream_id, version, recorded_at FROM eskit_events "
        f"WHERE stream_type = {mark} AND (version = 1 OR version = {mark})",
        (STREAM_TYPE, events_per_account),
    )
    times: dict[tuple[str, int], str] = {}
    for stream, version, recorded_at in rows:
        if not isinstance(recorded_at, datetime):  # SQLite's ISO-8601 text
            recorded_at = datetime.fromisoformat(recorded_at)
        times[stream, version] = utc_timestamp(recorded_at)
    expected = {}
    for index in range(n_accounts):
        doc_id = stream_id(index)
        created, updated = times[doc_id, 1], times[doc_id, events_per_account]
        expected[doc_id] = expected_document(index, events_per_account, created, updated)
    return expected


def check_documents(
    label: str, documents: Iterable[tuple[str, Body]], expected: Mapping[str, Body]
) -> None:
    """Raise unless ``documents`` are exactly the ``expected`` ones, every field equal."""
    found = dict(documents)
    wrong = [doc_id for doc_id, body in found.items() if expected.get(doc_id) != body]
    if len(found) != len(expected) or wrong:
        example = (
            f"; e.g. {wrong[0]}: {found[wrong[0]]} != {expected.get(wrong[0])}" if wrong else ""
        )
        raise AssertionError(
            f"{label}: {len(found)} documents, {len(wrong)} of them wrong, "
            f"expected {len(expected)}{example}"
        )


async def eskit_documents(store: EventStoreBackend) -> list[tuple[str, Body]]:
    """Every committed document of eskit's ``bank_accounts_by_id``."""
    return list((await ACCOUNTS.all(require_transactions(store, "the check"))).items())


def _eskit(
    loop: Loop, store: EventStoreBackend, expected: dict[str, Body], batches: tuple[int, ...]
) -> Contender:
    def one(batch: int) -> tuple[float, int]:
        result = loop.run(eskit_catchup(store, batch))
        check_documents("eskit", loop.run(eskit_documents(store)), expected)
        return result

    return Contender("eskit", "eskit", one, batches)


# -- raw ------------------------------------------------------------------------------------


def _raw_postgres(url: str, expected: dict[str, Body], batches: tuple[int, ...]) -> Contender:
    def one(batch: int) -> tuple[float, int]:
        reset_raw_pg(url)
        result = raw_pg_catchup(url, batch)
        check_documents("raw psycopg", raw_pg_documents(url), expected)
        return result

    return Contender("raw psycopg", "raw", one, batches)


def _raw_sqlite(path: Path, expected: dict[str, Body], batches: tuple[int, ...]) -> Contender:
    def one(batch: int) -> tuple[float, int]:
        reset_raw_sqlite(path)
        result = raw_sqlite_catchup(path, batch)
        check_documents("raw sqlite3", raw_sqlite_documents(path), expected)
        return result

    return Contender("raw sqlite3", "raw", one, batches)


# -- eventsourcing --------------------------------------------------------------------------


def _eventsourcing(url: str, n: int, per: int, batches: tuple[int, ...]) -> Contender:
    return Contender(
        "eventsourcing 9.5",
        "peer",
        lambda batch: eventsourcing_catchup(url, n, per, batch=batch),
        batches,
    )


# -- the workload ---------------------------------------------------------------------------

RUNNER_ACCOUNTS = 20
"""eventsourcing's own runner (one event per transaction) reads a log of its own of this many
accounts (2,000 events): at a few hundred events/s, the full log would take minutes."""


def run(
    settings: Settings, backend: Backend, cluster: Cluster | None, tmp: Path, out: list[Row]
) -> None:
    n, per = settings.catchup_accounts, settings.events_per_account
    total = n * per
    batches = settings.catchup_batches
    with ExitStack() as stack:
        loop = Loop()
        stack.callback(loop.close)
        contenders: list[Contender] = []
        started = time.perf_counter()
        runner_url = ""
        if backend == "postgres":
            assert cluster is not None
            url = stack.enter_context(cluster.eskit_database())
            pg_store = PostgresEventStore(url)
            loop.run(pg_store.start())
            stack.callback(lambda: loop.run(pg_store.close()))
            loop.run(preload_store(pg_store, n, per))
            expected = loop.run(expected_documents(pg_store, n, per))
            with pg_connect(url) as conn:
                conn.execute("VACUUM ANALYZE eskit_events")
            contenders.append(_eskit(loop, pg_store, expected, batches))
            contenders.append(_raw_postgres(url, expected, batches))
            es_url = stack.enter_context(cluster.empty_database())
            preload_eventsourcing(es_url, n, per)
            contenders.append(_eventsourcing(es_url, n, per, batches))
            runner_url = stack.enter_context(cluster.empty_database())
            preload_eventsourcing(runner_url, RUNNER_ACCOUNTS, per)
            for database in (url, es_url, runner_url):
                with pg_connect(database) as conn:
                    conn.execute("VACUUM ANALYZE")
            with pg_connect(url) as conn:
                conn.execute("CHECKPOINT")  # the preloads' dirty pages written before timing
        else:
            path = tmp / "catchup-eskit.db"
            sqlite_store = SQLiteEventStore(path)
            loop.run(sqlite_store.start())
            stack.callback(lambda: loop.run(sqlite_store.close()))
            loop.run(preload_store(sqlite_store, n, per))
            expected = loop.run(expected_documents(sqlite_store, n, per))
            checkpoint_file(path)
            contenders.append(_eskit(loop, sqlite_store, expected, batches))
            contenders.append(_raw_sqlite(path, expected, batches))
        note(
            f"{backend} catch-up: {total:,} events written per log "
            f"({time.perf_counter() - started:.0f} s)"
        )
        samples: dict[tuple[str, int], list[float]] = {}
        for c in contenders:
            _measure(c, c.batches[0], total)  # warm up: caches, prepared statements
            for b in c.batches:
                samples[c.label, b] = []
        for sample in range(settings.samples):
            for c in rotated(contenders, sample):
                for b in c.batches:
                    check_stop()
                    samples[c.label, b].append(_measure(c, b, total))
            note(f"{backend} catch-up: round {sample + 1}/{settings.samples} done")
        for (label, b), values in samples.items():
            c = next(c for c in contenders if c.label == label)
            case = f"{total:,} events, batch {b:,}"
            out.append(Row("catch-up", backend, case, _label(c, b), c.role, "ev/s", values))
        if runner_url:
            check_stop()
            runner_events = RUNNER_ACCOUNTS * per
            seconds, events = eventsourcing_catchup(runner_url, RUNNER_ACCOUNTS, per, batch=None)
            assert events == runner_events, (events, runner_events)
            note(f"{backend} catch-up: eventsourcing's runner {events / seconds:,.0f} ev/s")
            out.append(
                Row(
                    "catch-up",
                    backend,
                    f"{runner_events:,} events, 1 per txn",
                    "eventsourcing 9.5 runner, 1 sample",
                    "peer",
                    "ev/s",
                    [events / seconds],
                )
            )


def _measure(c: Contender, batch: int, total: int) -> float:
    seconds, events = c.run(batch)
    assert events == total, (c.label, batch, events, total)
    return events / seconds


def _label(c: Contender, batch: int) -> str:
    if c.role == "eskit":
        return f"{c.label} (batch_size {batch:,})"
    if c.role == "raw":
        return f"{c.label} (pages of {batch:,})"
    return f"{c.label} ({batch:,} per txn)"
