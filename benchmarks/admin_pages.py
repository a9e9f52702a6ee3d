"""How fast the admin console's pages answer on a store of a million events.

    python benchmarks/admin_pages.py                    # 1,000,000 events, SQLite and PostgreSQL
    python benchmarks/admin_pages.py --events 200000 --backend sqlite

Fills a store (an SQLite file in a temporary folder; a database of an embedded PostgreSQL)
with bank-account streams (``AccountOpened`` then deposits, as the service writes them) and
streams of four other types, ten events each, in big transactions of many appends. The
bank-account service's projections then catch up, as they would have in production, and
the service starts over the store (``ServiceRuntime``, projections running, no gRPC).
Each page of the console is asked ``--requests`` times in turn, in process through the ASGI
app (``httpx.ASGITransport``: the server's work, without a socket); the table shows each
page's median and p99 in milliseconds. The target is every page under 300 ms.

On PostgreSQL the fill ends with ``VACUUM ANALYZE``, which autovacuum does on a live
database, so the planner knows the table's size and index-only scans can skip the heap.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "services"))

from bank_accounts.domain import AccountOpened, MoneyDeposited
from bank_accounts.service import service
from eskit.domain import Event
from eskit.projections import ProjectionRunner
from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store import (
    NO_STREAM,
    EventStoreBackend,
    LogBrowser,
    SQLiteEventStore,
    require_transactions,
)
from harness import postgres_server

TARGET_MS = 300.0
EVENTS_PER_STREAM = 10
STREAMS_PER_TRANSACTION = 500
OTHER_TYPES = ("Order", "Cart", "Shipment", "Invoice")
"""Besides BankAccount (half of the streams), the stream types the store holds."""


class ThingHappened(Event):
    """The events of the streams that are not bank accounts."""

    step: int
    note: str


def _note(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _bank_events(n: int) -> list[Event]:
    opened = AccountOpened(
        email=f"owner{n}@example.com",
        address=f"{n} Main St",
        first_name="Owner",
        last_name=f"N{n}",
        balance=1000,
        currency="USD",
        status="active",
    )
    deposits: list[Event] = [
        MoneyDeposited(amount=10 + k, currency="USD", payment_id=f"p-{n}-{k}")
        for k in range(EVENTS_PER_STREAM - 1)
    ]
    return [opened, *deposits]


def _other_events(n: int) -> list[Event]:
    return [ThingHappened(step=k, note=f"thing {n} step {k}") for k in range(EVENTS_PER_STREAM)]


async def fill(store: EventStoreBackend, events: int) -> None:
    """``events`` events in streams of ten, half bank accounts, in big transactions."""
    db = require_transactions(store, "the fill")
    streams = events // EVENTS_PER_STREAM
    started = time.perf_counter()
    for first in range(0, streams, STREAMS_PER_TRANSACTION):
        async with db.transaction() as tx:
            for n in range(first, min(first + STREAMS_PER_TRANSACTION, streams)):
                if n % 2 == 0:
                    stream_id, stream_type, batch = f"acc-{n:07d}", "BankAccount", _bank_events(n)
                else:
                    stream_type = OTHER_TYPES[(n // 2) % len(OTHER_TYPES)]
                    stream_id, batch = f"{stream_type.lower()}-{n:07d}", _other_events(n)
                await tx.append(
                    stream_id, batch, expected_version=NO_STREAM, stream_type=stream_type
                )
        done = min(first + STREAMS_PER_TRANSACTION, streams) * EVENTS_PER_STREAM
        if done % 100_000 == 0:
            rate = done / (time.perf_counter() - started)
            _note(f"  {done:,} events ({rate:,.0f} events/s)")


async def catch_up(store: EventStoreBackend, settings: EskitSettings) -> None:
    started = time.perf_counter()
    parts = service.build(store, settings)
    runner = ProjectionRunner(store, [*parts.projections, *parts.processes], batch_size=5000)
    await runner.prepare()
    await runner.catch_up()
    _note(f"  projections caught up in {time.perf_counter() - started:.0f} s")


async def pages(store: EventStoreBackend) -> list[tuple[str, str]]:
    """The pages to time, with real ids and keyset positions from the filled store."""
    assert isinstance(store, LogBrowser)
    head = await store.last_position()
    accounts = await store.latest_streams(stream_type="BankAccount", limit=1)
    middle_log = await store.latest_events(before=head // 2 + 1, limit=1)
    middle = middle_log[0].position
    account = accounts[0].stream_id
    return [
        ("overview", "/admin/"),
        ("stream types (counts)", "/admin/streams"),
        ("find a stream by id", f"/admin/streams?id={account}"),
        ("streams of a type", "/admin/streams/type?name=BankAccount"),
        ("streams of a type, deep page", f"/admin/streams/type?name=BankAccount&before={middle}"),
        ("all streams", "/admin/streams/type"),
        ("a stream + its state", f"/admin/stream?id={account}"),
        ("a stream as of version 3", f"/admin/stream?id={account}&version=3"),
        ("global log", "/admin/log"),
        ("global log, deep page", f"/admin/log?before={middle}"),
        ("projections", "/admin/projections"),
        ("relay & consumers", "/admin/messaging"),
        ("dead letters", "/admin/dead-letters"),
        ("sagas", "/admin/sagas"),
        ("read horizon", "/admin/horizon"),
    ]


async def time_pages(
    store: EventStoreBackend, settings: EskitSettings, requests: int
) -> list[tuple[str, float, float]]:
    """Each page asked ``requests`` times, in turns; (page, median ms, p99 ms)."""
    listed = await pages(store)
    samples: dict[str, list[float]] = {name: [] for name, _ in listed}
    async with ServiceRuntime(service, store, settings, grpc_address=None) as runtime:
        transport = httpx.ASGITransport(app=runtime.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://admin.bench") as http:
            for _name, path in listed:  # one untimed round: templates compiled, caches warm
                answer = await http.get(path)
                assert answer.status_code in (200, 303), (path, answer.status_code)
            for _ in range(requests):
                for name, path in listed:
                    started = time.perf_counter()
                    answer = await http.get(path)
                    samples[name].append((time.perf_counter() - started) * 1000)
                    assert answer.status_code in (200, 303), (path, answer.status_code)
    return [(name, statistics.median(s), _p99(s)) for name, s in samples.items()]


def _p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


@asynccontextmanager
async def sqlite_store(tmp: Path) -> AsyncIterator[tuple[EventStoreBackend, EskitSettings]]:
    url = f"sqlite:///{tmp / 'admin.db'}"
    async with SQLiteEventStore.open(tmp / "admin.db", synchronous="NORMAL") as store:
        yield store, EskitSettings(database_url=url, grpc_port=0, grpc_query_port=0)


@asynccontextmanager
async def postgres_store(url: str) -> AsyncIterator[tuple[EventStoreBackend, EskitSettings]]:
    from eskit.store.postgres import PostgresEventStore

    async with PostgresEventStore.open(url) as store:
        yield store, EskitSettings(database_url=url, grpc_port=0, grpc_query_port=0)


async def vacuum(url: str) -> None:
    import psycopg

    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("VACUUM ANALYZE")


async def measure(
    backend: str,
    opened: Callable[[], Any],
    events: int,
    requests: int,
    after_fill: Callable[[], Any] | None = None,
) -> list[tuple[str, float, float]]:
    async with opened() as (store, settings):
        _note(f"{backend}: filling {events:,} events")
        await fill(store, events)
        if after_fill is not None:
            await after_fill()
        await catch_up(store, settings)
        _note(f"{backend}: timing {requests} requests of each page")
        return await time_pages(store, settings, requests)


def report(results: dict[str, list[tuple[str, float, float]]], events: int) -> bool:
    backends = list(results)
    print(f"\nAdmin console pages on a store of {events:,} events (ms; target < {TARGET_MS:.0f})\n")
    header = f"{'page':<32}" + "".join(f"{b + ' p50':>16}{b + ' p99':>16}" for b in backends)
    print(header)
    print("-" * len(header))
    names = [name for name, _, _ in results[backends[0]]]
    worst = 0.0
    for index, name in enumerate(names):
        cells = ""
        for backend in backends:
            _, median, p99 = results[backend][index]
            worst = max(worst, p99)
            cells += f"{median:>16.1f}{p99:>16.1f}"
        print(f"{name:<32}{cells}")
    ok = worst < TARGET_MS
    print(
        f"\nslowest p99: {worst:.1f} ms: {'every page under' if ok else 'OVER'} {TARGET_MS:.0f} ms"
    )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--backend", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    backends = args.backend or ["sqlite", "postgres"]
    results: dict[str, list[tuple[str, float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="eskit-admin-bench-") as folder:
        if "sqlite" in backends:
            results["sqlite"] = asyncio.run(
                measure("sqlite", lambda: sqlite_store(Path(folder)), args.events, args.requests)
            )
        if "postgres" in backends:
            with postgres_server.start() as cluster, cluster.eskit_database() as url:
                results["postgres"] = asyncio.run(
                    measure(
                        "postgres",
                        lambda: postgres_store(url),
                        args.events,
                        args.requests,
                        after_fill=lambda: vacuum(url),
                    )
                )
    return 0 if report(results, args.events) else 1


if __name__ == "__main__":
    sys.exit(main())
