"""Workload 7: rebuilding the bank-account read model from a log of 1,000,000 events.

Preload (timed and shown, as it is a workload of its own): 10,000 accounts of 100 events
(quick: 1,000 accounts, 100,000 events), the log of ``workloads.account_events.account_event``,
one append of 100 events per account, from 8 concurrent tasks on one store; then
``VACUUM ANALYZE`` and ``CHECKPOINT`` on PostgreSQL, a WAL checkpoint on SQLite (untimed),
as an old log would be.

* eskit: ``rebuild(store, AccountsById(), batch_size=2000)``, what ``eskit projections
  rebuild`` runs: the projection from position 0 into shadow tables, then the swap; shown
  as events/s and as total seconds;
* raw: ``contenders.raw_projection`` (psycopg or sqlite3), the same documents folded and
  written back the same way by hand, from position 0 into an emptied table, pages of
  2,000: the limit (without a shadow table and a swap, which cost next to nothing).

Each sample ends with a check (untimed) that the read model holds exactly the document
the log makes for each account, every field equal (``catchup.check_documents``).
"""

from __future__ import annotations

import asyncio
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from bank_accounts.projections import AccountsById
from contenders.raw_projection import (
    raw_pg_catchup,
    raw_pg_documents,
    raw_sqlite_catchup,
    raw_sqlite_documents,
    reset_raw_pg,
    reset_raw_sqlite,
)
from contenders.raw_sql import checkpoint_file, pg_connect
from eskit.projections.rebuild import rebuild
from eskit.store import SQLiteEventStore
from eskit.store.port import EventStoreBackend
from eskit.store.postgres import PostgresEventStore
from harness.postgres_server import Cluster
from harness.progress import note
from harness.results import Backend, Role, Row
from harness.settings import Settings
from harness.timing import Loop, check_stop, rotated
from workloads.account_events import preload_store
from workloads.catchup import check_documents, eskit_documents, expected_documents

__all__ = ["PRELOAD_TASKS", "preload", "run"]

PRELOAD_TASKS = 8


async def preload(store: EventStoreBackend, n_accounts: int, events_per_account: int) -> int:
    """``n_accounts`` accounts, one append each, from ``PRELOAD_TASKS`` concurrent tasks."""
    share = -(-n_accounts // PRELOAD_TASKS)

    async def task(first: int) -> int:
        count = min(share, n_accounts - first)
        return await preload_store(store, count, events_per_account, first=first)

    done = await asyncio.gather(*(task(f) for f in range(0, n_accounts, share)))
    return sum(done)


class Contender:
    def __init__(self, label: str, role: Role, run: Any) -> None:
        self.label = label
        self.role = role
        self.run = run


def run(
    settings: Settings, backend: Backend, cluster: Cluster | None, tmp: Path, out: list[Row]
) -> None:
    n, per, batch = settings.rebuild_accounts, settings.events_per_account, settings.rebuild_batch
    total = n * per
    with ExitStack() as stack:
        loop = Loop()
        stack.callback(loop.close)
        store: Any
        if backend == "postgres":
            assert cluster is not None
            url = stack.enter_context(cluster.eskit_database())
            store = PostgresEventStore(url)
        else:
            path = tmp / "rebuild.db"
            store = SQLiteEventStore(path)
        loop.run(store.start())
        stack.callback(lambda: loop.run(store.close()))
        note(f"{backend} rebuild: writing {total:,} events")
        started = time.perf_counter()
        written = loop.run(preload(store, n, per))
        preload_s = time.perf_counter() - started
        assert written == total
        if backend == "postgres":
            with pg_connect(url) as conn:
                conn.execute("VACUUM ANALYZE eskit_events")
                conn.execute("CHECKPOINT")
        else:
            checkpoint_file(path)
        note(
            f"{backend} rebuild: {total:,} events written in {preload_s:.1f} s "
            f"({total / preload_s:,.0f} ev/s)"
        )
        out.append(
            Row(
                "rebuild",
                backend,
                f"preload {total:,} events",
                f"eskit appends of {per} events, {PRELOAD_TASKS} tasks",
                "eskit",
                "ev/s",
                [total / preload_s],
            )
        )

        expected = loop.run(expected_documents(store, n, per))

        def eskit_once() -> tuple[float, int]:
            result = loop.run(rebuild(store, AccountsById(), batch_size=batch))
            check_documents("eskit", loop.run(eskit_documents(store)), expected)
            return result.seconds, result.events

        def raw_pg_once() -> tuple[float, int]:
            reset_raw_pg(url)
            result = raw_pg_catchup(url, batch)
            check_documents("raw psycopg", raw_pg_documents(url), expected)
            return result

        def raw_sqlite_once() -> tuple[float, int]:
            reset_raw_sqlite(path)
            result = raw_sqlite_catchup(path, batch)
            check_documents("raw sqlite3", raw_sqlite_documents(path), expected)
            return result

        contenders = [
            Contender(f"eskit rebuild() (batch_size {batch:,})", "eskit", eskit_once),
            Contender(
                f"raw {'psycopg' if backend == 'postgres' else 'sqlite3'} (pages of {batch:,})",
                "raw",
                raw_pg_once if backend == "postgres" else raw_sqlite_once,
            ),
        ]
        seconds: dict[str, list[float]] = {c.label: [] for c in contenders}
        for sample in range(settings.rebuild_samples):
            for c in rotated(contenders, sample):
                check_stop()
                took, events = c.run()
                assert events == total, (c.label, events, total)
                seconds[c.label].append(took)
                note(f"{backend} rebuild: {c.label} {took:.1f} s ({total / took:,.0f} ev/s)")
        for c in contenders:
            rates = [total / s for s in seconds[c.label]]
            out.append(Row("rebuild", backend, f"{total:,} events", c.label, c.role, "ev/s", rates))
        for c in contenders:
            case = f"{total:,} events, total time"
            out.append(Row("rebuild", backend, case, c.label, c.role, "s", seconds[c.label]))
