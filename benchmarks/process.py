"""Benchmarks of the process layer: bid sagas end to end, their latency, the queue against direct.

    python benchmarks/process.py            # 3 samples, 2,000 bids, 20 s at 100 bids/s, 5,000 commands
    python benchmarks/process.py --quick    # 2 samples, 500 bids, 5 s at 100 bids/s, 2,000 commands

Starts an embedded PostgreSQL (fsync on; a fresh database per sample) and, for the queue
against direct handling, SQLite files (``synchronous=FULL``) in a temporary folder. eskit
runs on uvloop, as ``eskit worker`` does. Contenders take turns within each round.

**Bid sagas end to end** (the invoice-financing service, ``services/invoice_financing``):
bid → ``FundsReserved`` → ``FinanceInvoice`` → ``InvoiceFinanced`` or ``BidRejected`` →
``CommitFunds`` or ``ReleaseFunds`` → ``FundsCommitted`` or ``FundsReleased``. eskit runs what
``eskit worker`` runs, in one process, without the bus (no relay, no consumer of
Registering's events): the service's four projections and two sagas in a ProjectionRunner,
the queue's workers as QueueTasks. The issuer, 100 funded investors and the invoices are set
up first by handling commands directly through ``app.dispatcher``, and the runner catches up
before the clock starts. Eight of every ten bids finance their invoice, two lose it to the
other bid of a pair and are compensated (``workloads/bids.py``).

* **throughput**: every bid queued (``queue.submit``) before the workers start; the clock
  runs from the workers' start until every bid saga has ended (its instance ``completed``
  or ``compensated``, read every 20 ms). Target ≥ 300 sagas/s.
* **latency**: bids submitted at a steady 100 per second (each as a task when due); from
  ``queue.submit`` returning (the bid accepted) to the saga's final event committed: a
  listener, the dispatcher's ``handle`` of ``CommitFunds`` / ``ReleaseFunds`` returning in the
  queue worker (its append has committed; ``recorded_at`` is the transaction's start, not
  its commit). p50, p95, p99 over every bid, min-max the p99 of each quarter of the run.
  Target p99 ≤ 50 ms. The hops of eskit's best configuration are shown apart: when each
  command's handling started and ended, from the same listener.

Each with 1, 2 and 4 queue workers. Beside eskit:

* **raw psycopg** (the limit, ``contenders/raw_process.py``): the same three events with
  version checks and the two follow-up commands through a plain queue table claimed with
  ``FOR UPDATE SKIP LOCKED``, each command one pipelined transaction (event, follow-up,
  outcome; 3 per bid); and the same with one transaction per claimed batch of 64 (what
  eskit's combined appends approach). 4 worker tasks for throughput, 1 for latency (the
  best of 1, 2 and 4 in trials), a pool of 16 connections as eskit's;
* **eventsourcing 9.5** (the peer, ``contenders/eventsourcing_process.py``): the chain as two
  process applications following each other (``System``, ``MultiThreadedRunner``, its
  PostgreSQL persistence). It has no command queue: a bid is a method call that returns once
  ``FundsReserved`` is recorded, which is its "accepted", one hop later than eskit's. Bids
  are called from one thread (commands and policies of an application take turns on its
  processing lock, which is what makes them safe).

**Queue vs direct**: the same K ``DepositFunds`` over 100 investor accounts, 64 in flight,
(a) ``app.dispatcher.handle`` directly, (b) ``app.queue.submit`` by 64 submitters while
QueueTasks (1 or 2 workers) handle them, until every one is ``done``; commands per second
from the first submit to the last outcome. No projections run in either. Target: queued ≥
direct ÷ 1.5. Raw psycopg beside it: deposits appended directly (one transaction each), and
through its queue table (door: one INSERT transaction per command) handled a transaction
per command, a transaction per batch, or not at all (insert, claim, finish: the queue's
bookkeeping alone). eventsourcing has no command queue to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any, TypeVar, cast

from rich.console import Console
from rich.table import Table

_HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(_HERE), str(_HERE.parent / "services")]  # harness, the invoice service

from contenders.eventsourcing_peer import postgres_env  # noqa: E402
from contenders.eventsourcing_process import Accounts, Invoices, peer_runner  # noqa: E402
from contenders.raw_process import Mode, RawProcess, raw_pool  # noqa: E402
from eskit.app.handling import CommandResult  # noqa: E402
from eskit.domain import Command  # noqa: E402
from eskit.process import CommandDispatcher  # noqa: E402
from eskit.projections import ProjectionContext, ProjectionRunner  # noqa: E402
from eskit.serving.gc_policy import freeze_startup_objects  # noqa: E402
from eskit.serving.processes import QueueTasks  # noqa: E402
from eskit.settings import EskitSettings  # noqa: E402
from eskit.store import SQLiteEventStore, StoredEvent, TransactionalStore  # noqa: E402
from eskit.store.postgres import PostgresEventStore  # noqa: E402
from harness import postgres_server  # noqa: E402
from harness.progress import note  # noqa: E402
from harness.results import percentile  # noqa: E402
from harness.timing import Loop, rotated  # noqa: E402
from invoice_financing.app import InvoiceFinancing  # noqa: E402
from invoice_financing.financing.commands import (  # noqa: E402
    AddIssuer,
    BidOnInvoice,
    CommitFunds,
    DepositFunds,
    OpenInvestorAccount,
    PutInvoiceForSale,
    ReleaseFunds,
)
from invoice_financing.financing.sagas import BidSaga, sagas  # noqa: E402
from invoice_financing.projections import projections  # noqa: E402
from workloads.bids import CURRENCY, FUNDS, ISSUER, Plan, plan  # noqa: E402

T = TypeVar("T")
SETUP_CONCURRENCY = 32
POLL_S = 0.02
"""How often the throughput run reads how many bid sagas have ended."""
ACCOUNTS = 100
"""Investor accounts the queue-vs-direct deposits go to."""
RAW_WORKERS = {"throughput": 4, "latency": 1}
SAGA_TARGET = 300.0
LATENCY_TARGET_MS = 50.0
QUEUE_TARGET = 1.5


@dataclass(frozen=True)
class Config:
    quick: bool
    samples: int
    bids: int
    """Bids queued at once in a throughput sample."""
    latency_s: float
    rate: int = 100
    """Bids per second of the latency run."""
    workers: tuple[int, ...] = (1, 2, 4)
    """Queue workers eskit is measured with (sagas)."""
    queue_workers: tuple[int, ...] = (1, 2)
    """Queue workers eskit is measured with (queue vs direct)."""
    commands: int = 5_000
    """Commands of one queue-vs-direct sample (below the queue's max_waiting of 10,000)."""
    concurrency: int = 64
    """Commands in flight when handled directly, and submitters at the queue's door."""

    @classmethod
    def of(cls, quick: bool, samples: int | None) -> Config:
        if quick:
            return cls(True, samples or 2, 500, 5.0, commands=2_000)
        return cls(False, samples or 3, 2_000, 20.0)


def _settings(workers: int) -> EskitSettings:
    return EskitSettings(_env_file=None, queue_workers=workers)


async def _in_turns(
    call: Callable[[T], Awaitable[Any]], items: Iterable[T], concurrency: int
) -> None:
    """``call(item)`` for every item, at most ``concurrency`` in flight."""
    pending = iter(items)

    async def lane() -> None:
        for item in pending:
            await call(item)

    await asyncio.gather(*(lane() for _ in range(concurrency)))


# -- the invoice-financing service, as eskit worker runs it -----------------------------------


async def set_up(app: InvoiceFinancing, bids: Plan) -> None:
    """The issuer, the investors with their funds, the invoices: handled at once."""
    handle = app.dispatcher.handle
    await handle(AddIssuer(aggregate_id=ISSUER, name="Acme Ltd"))
    due = datetime.now(UTC).date() + timedelta(days=30)
    for commands in (
        [OpenInvestorAccount(aggregate_id=i, name=i) for i in bids.investors],
        [DepositFunds(aggregate_id=i, amount=FUNDS, currency=CURRENCY) for i in bids.investors],
        [
            PutInvoiceForSale(
                aggregate_id=n, issuer_id=ISSUER, amount=a, currency=CURRENCY, due_date=due
            )
            for n, a in bids.invoices.items()
        ],
    ):
        await _in_turns(handle, commands, SETUP_CONCURRENCY)


def _bid_commands(bids: Plan) -> list[BidOnInvoice]:
    return [
        BidOnInvoice(
            aggregate_id=b.investor,
            invoice_id=b.invoice,
            amount=b.amount,
            currency=CURRENCY,
            bid_id=b.bid_id,
        )
        for b in bids.bids
    ]


async def _ended(store: TransactionalStore) -> tuple[int, int]:
    counts = await store.committed.sagas.counts()
    return counts.get((BidSaga.name, "completed"), 0), counts.get((BidSaga.name, "compensated"), 0)


async def _until_ended(store: TransactionalStore, count: int, timeout_s: float = 600.0) -> None:
    """Return once ``count`` bid sagas have ended (read every ``POLL_S``)."""
    deadline = time.perf_counter() + timeout_s
    while sum(await _ended(store)) < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(
                f"bid sagas still running after {timeout_s} s: {await _ended(store)}"
            )
        await asyncio.sleep(POLL_S)


async def _check_ended(store: TransactionalStore, bids: Plan) -> None:
    completed, compensated = await _ended(store)
    if (completed, compensated) != (bids.financed, bids.compensated):
        raise RuntimeError(
            f"{completed} bid sagas completed and {compensated} compensated, expected "
            f"{bids.financed} and {bids.compensated}"
        )


class _NotingBidSaga(BidSaga):
    """The bid saga, noting when each event of a bid was handled in a batch (the batch
    commits right after)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: defaultdict[str, dict[str, float]] = defaultdict(dict)

    async def handle_each(self, ctx: ProjectionContext, records: Sequence[StoredEvent]) -> None:
        await super().handle_each(ctx, records)
        now = time.perf_counter()
        for record in records:
            if "bid_id" in record.data:
                self.seen[record.data["bid_id"]].setdefault(record.event_type, now)


class _Running:
    """The service as ``eskit worker`` runs it, minus the bus: projections and sagas in a
    ProjectionRunner (started, caught up), queue workers in QueueTasks (:meth:`start_workers`)."""

    def __init__(
        self, store: TransactionalStore, app: InvoiceFinancing, bid_saga: BidSaga | None = None
    ) -> None:
        self.store = store
        self.app = app
        running = [s for s in sagas() if bid_saga is None or not isinstance(s, BidSaga)]
        if bid_saga is not None:
            running.append(bid_saga)
        self.runner = ProjectionRunner(store, [*projections(), *running])
        self.tasks: QueueTasks | None = None

    async def __aenter__(self) -> _Running:
        await self.runner.start()
        await self.runner.wait_for(await self.store.last_position(), timeout_s=600)
        freeze_startup_objects()  # as eskit worker does once it is up
        return self

    def start_workers(self, workers: int) -> None:
        self.tasks = QueueTasks(self.app.queue, _settings(workers))
        self.tasks.start()

    async def __aexit__(self, *exc: object) -> None:
        if self.tasks is not None:
            await self.tasks.stop()
        await self.runner.stop()
        gc.unfreeze()


async def _eskit_sagas(url: str, *, bids: Plan, workers: int) -> float:
    """Bid sagas ended per second, every bid queued before the workers start."""
    async with PostgresEventStore.open(url) as store:
        app = InvoiceFinancing(store)
        await set_up(app, bids)
        async with _Running(store, app) as running:
            commands = _bid_commands(bids)
            await _in_turns(app.queue.submit, commands, 16)
            started = time.perf_counter()
            running.start_workers(workers)
            await _until_ended(store, len(commands))
            elapsed = time.perf_counter() - started
        await _check_ended(store, bids)
    return len(commands) / elapsed


class _NotingDispatcher(CommandDispatcher):
    """The service's dispatcher, noting when the handling of each bid's commands started
    and ended (its append committed), by bid id and command type."""

    def __init__(self, routes: Mapping[type[Command], Any]) -> None:
        super().__init__(routes)
        self.times: defaultdict[str, dict[str, tuple[float, float]]] = defaultdict(dict)

    async def handle(
        self, command: Command, metadata: Mapping[str, Any] | None = None, *, replay: bool = False
    ) -> CommandResult:
        started = time.perf_counter()
        result = await super().handle(command, metadata, replay=replay)
        bid_id = getattr(command, "bid_id", None)
        if bid_id is not None:
            kind = (
                "final"
                if isinstance(command, CommitFunds | ReleaseFunds)
                else type(command).__name__
            )
            self.times[str(bid_id)].setdefault(kind, (started, time.perf_counter()))
        return result

    def ended(self) -> dict[str, float]:
        return {b: t["final"][1] for b, t in self.times.items() if "final" in t}


@dataclass
class Latencies:
    """Milliseconds from each bid accepted to its final event committed, in submit order."""

    waits: list[float]
    seconds: float
    """How long the bids took to submit (the achieved rate)."""
    hops: dict[str, list[float]] = field(default_factory=dict)
    """eskit only: milliseconds of each step of the chain, per bid."""

    def at(self, q: float) -> float:
        return percentile(self.waits, q)

    def spread(self, q: float, parts: int = 4) -> tuple[float, float]:
        size = max(1, len(self.waits) // parts)
        values = [percentile(self.waits[i : i + size], q) for i in range(0, len(self.waits), size)]
        return min(values), max(values)


HOPS = (
    ("accepted → BidOnInvoice taken by a worker", ("accepted", 0), ("BidOnInvoice", 0)),
    ("BidOnInvoice handled: FundsReserved committed", ("BidOnInvoice", 0), ("BidOnInvoice", 1)),
    ("→ the bid saga handled it (runner: woken, read)", ("BidOnInvoice", 1), ("saga 1", 0)),
    ("→ FinanceInvoice taken (saga commit, queue)", ("saga 1", 0), ("FinanceInvoice", 0)),
    ("FinanceInvoice handled: the answer committed", ("FinanceInvoice", 0), ("FinanceInvoice", 1)),
    ("→ the bid saga handled it", ("FinanceInvoice", 1), ("saga 2", 0)),
    ("→ CommitFunds/ReleaseFunds taken", ("saga 2", 0), ("final", 0)),
    ("CommitFunds/ReleaseFunds handled: final event", ("final", 0), ("final", 1)),
)
_ANSWERS = ("financing.InvoiceFinanced", "financing.BidRejected")


def _hops(
    times: dict[str, dict[str, tuple[float, float]]],
    seen: dict[str, dict[str, float]],
    accepted: dict[str, float],
) -> dict[str, list[float]]:
    hops: dict[str, list[float]] = {name: [] for name, _, _ in HOPS}
    for bid_id, marks in times.items():
        saw = seen[bid_id]
        answer = next(saw[t] for t in _ANSWERS if t in saw)
        points = {
            **marks,
            "accepted": (accepted[bid_id], accepted[bid_id]),
            "saga 1": (saw["financing.FundsReserved"], 0.0),
            "saga 2": (answer, 0.0),
        }
        for name, (start, start_end), (stop, stop_end) in HOPS:
            hops[name].append((points[stop][stop_end] - points[start][start_end]) * 1000)
    return hops


async def steady(
    submit: Callable[[int], Awaitable[None]], count: int, rate: int, accepted: dict[int, float]
) -> float:
    """Call ``submit(i)`` for ``count`` bids at ``rate`` per second, each as a task started
    when due (a slow one does not hold the next back); ``accepted[i]`` is when it returned."""
    started = time.perf_counter()
    tasks = []

    async def one(i: int) -> None:
        await submit(i)
        accepted[i] = time.perf_counter()

    for i in range(count):
        delay = started + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i)))
    await asyncio.gather(*tasks)
    return time.perf_counter() - started


async def wait_all(ended: Callable[[], int], count: int, timeout_s: float = 300.0) -> None:
    deadline = time.perf_counter() + timeout_s
    while ended() < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"only {ended()} of {count} bids ended")
        await asyncio.sleep(0.002)


async def _eskit_latency(url: str, *, bids: Plan, workers: int, rate: int) -> Latencies:
    async with PostgresEventStore.open(url) as store:
        app = InvoiceFinancing(store)
        noting = cast(_NotingDispatcher, _NotingDispatcher.of(app.dispatcher.handlers))
        app.queue.dispatcher = noting  # the queue workers take it from the queue
        await set_up(app, bids)
        saga = _NotingBidSaga()
        async with _Running(store, app, saga) as running:
            running.start_workers(workers)
            await asyncio.sleep(0.5)
            commands = _bid_commands(bids)
            accepted: dict[int, float] = {}

            async def submit(i: int) -> None:
                await app.queue.submit(commands[i])

            seconds = await steady(submit, len(commands), rate, accepted)
            await wait_all(lambda: len(noting.ended()), len(commands))
            await _until_ended(store, len(commands))  # the sagas' last steps, before stopping
        await _check_ended(store, bids)
    ended = noting.ended()
    waits = [(ended[str(c.bid_id)] - accepted[i]) * 1000 for i, c in enumerate(commands)]
    by_bid = {str(c.bid_id): accepted[i] for i, c in enumerate(commands)}
    return Latencies(waits, seconds, _hops(noting.times, saga.seen, by_bid))


# -- the limit: raw psycopg ------------------------------------------------------------------


class _Raw:
    """A RawProcess over a pool of its own, in an empty database."""

    def __init__(self, url: str) -> None:
        self.pool = raw_pool(url)
        self.raw = RawProcess(self.pool)
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> RawProcess:
        await self.pool.open(wait=True)
        await self.raw.create_tables()
        return self.raw

    def start_workers(self, workers: int, mode: Mode) -> None:
        self.tasks = [asyncio.create_task(self.raw.work(self.stop, mode)) for _ in range(workers)]

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)
        await self.pool.close()


def _check_raw(raw: RawProcess, bids: Plan) -> None:
    financed = sum(1 for i in raw.invoices.values() if i.financed_by is not None)
    if (len(raw.ended), financed) != (len(bids.bids), bids.financed):
        raise RuntimeError(f"raw: {len(raw.ended)} bids ended, {financed} invoices financed")


async def raw_sagas(url: str, *, bids: Plan, mode: Mode) -> float:
    box = _Raw(url)
    async with box as raw:
        await raw.set_up(bids)
        await raw.enqueue_all(raw.bid_payloads(bids))
        started = time.perf_counter()
        box.start_workers(RAW_WORKERS["throughput"], mode)
        await wait_all(lambda: len(raw.ended), len(bids.bids))
        elapsed = time.perf_counter() - started
    _check_raw(raw, bids)
    return len(bids.bids) / elapsed


async def raw_latency(url: str, *, bids: Plan, mode: Mode, rate: int) -> Latencies:
    box = _Raw(url)
    async with box as raw:
        await raw.set_up(bids)
        box.start_workers(RAW_WORKERS["latency"], mode)
        payloads = raw.bid_payloads(bids)
        accepted: dict[int, float] = {}

        async def submit(i: int) -> None:
            await raw.submit(*payloads[i])

        seconds = await steady(submit, len(payloads), rate, accepted)
        await wait_all(lambda: len(raw.ended), len(payloads))
    _check_raw(raw, bids)
    waits = [(raw.ended[str(b.bid_id)] - accepted[i]) * 1000 for i, b in enumerate(bids.bids)]
    return Latencies(waits, seconds)


# -- the peer: eventsourcing's process applications -----------------------------------------


def _check_peer(runner: Any, bids: Plan) -> None:
    ended, financed = len(runner.get(Accounts).ended), runner.get(Invoices).financed()
    if (ended, financed) != (len(bids.bids), bids.financed):
        raise RuntimeError(f"eventsourcing: {ended} bids ended, {financed} invoices financed")


def _wait_peer(runner: Any, count: int, timeout_s: float = 300.0) -> None:
    accounts = runner.get(Accounts)
    deadline = time.perf_counter() + timeout_s
    while len(accounts.ended) < count:
        if runner.has_errored.is_set():
            runner.reraise_thread_errors()
        if time.perf_counter() > deadline:
            raise TimeoutError(f"eventsourcing: {len(accounts.ended)} of {count} bids ended")
        time.sleep(0.002)


def peer_sagas(url: str, *, bids: Plan) -> float:
    """Bids called one after another on the Accounts application while the runner's threads
    process the chain; the clock stops when every bid's final event is recorded."""
    runner = peer_runner(postgres_env(url, pool_size=5), bids)
    try:
        accounts = runner.get(Accounts)
        started = time.perf_counter()
        for b in bids.bids:
            accounts.bid(b.investor, str(b.bid_id), b.invoice, b.amount)
        _wait_peer(runner, len(bids.bids))
        elapsed = time.perf_counter() - started
        _check_peer(runner, bids)
    finally:
        runner.stop()
    return len(bids.bids) / elapsed


def peer_latency(url: str, *, bids: Plan, rate: int) -> Latencies:
    """Bids at ``rate`` per second from one thread (a call returns once FundsReserved is
    recorded: the peer's "accepted"), to the final event recorded."""
    runner = peer_runner(postgres_env(url, pool_size=5), bids)
    try:
        accounts = runner.get(Accounts)
        accepted: list[float] = []
        started = time.perf_counter()
        for i, b in enumerate(bids.bids):
            delay = started + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            accounts.bid(b.investor, str(b.bid_id), b.invoice, b.amount)
            accepted.append(time.perf_counter())
        seconds = time.perf_counter() - started
        _wait_peer(runner, len(bids.bids))
        _check_peer(runner, bids)
        ended = accounts.ended
        waits = [(ended[str(b.bid_id)] - accepted[i]) * 1000 for i, b in enumerate(bids.bids)]
    finally:
        runner.stop()
    return Latencies(waits, seconds)


# -- the queue against direct handling -------------------------------------------------------


def _accounts() -> list[str]:
    return [f"account-{i:03d}" for i in range(ACCOUNTS)]


def _deposits(count: int) -> list[DepositFunds]:
    accounts = _accounts()
    return [
        DepositFunds(aggregate_id=accounts[i % ACCOUNTS], amount=1 + i % 97, currency=CURRENCY)
        for i in range(count)
    ]


async def _opened(store: TransactionalStore) -> InvoiceFinancing:
    app = InvoiceFinancing(store)
    opening = [OpenInvestorAccount(aggregate_id=a, name=a) for a in _accounts()]
    await _in_turns(app.dispatcher.handle, opening, SETUP_CONCURRENCY)
    return app


async def eskit_direct(store: TransactionalStore, *, count: int, concurrency: int) -> float:
    app = await _opened(store)
    commands = _deposits(count)
    started = time.perf_counter()
    await _in_turns(app.dispatcher.handle, commands, concurrency)
    return count / (time.perf_counter() - started)


async def eskit_queued(
    store: TransactionalStore, *, count: int, concurrency: int, workers: int
) -> float:
    app = await _opened(store)
    commands = _deposits(count)
    tasks = QueueTasks(app.queue, _settings(workers))
    tasks.start()
    try:
        started = time.perf_counter()
        await _in_turns(app.queue.submit, commands, concurrency)
        deadline = time.perf_counter() + 600
        while (done := sum(w.counters.done for w in tasks.workers)) < count:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"{count - done} queued commands still not done after 600 s")
            await asyncio.sleep(0.002)
        return count / (time.perf_counter() - started)
    finally:
        await tasks.stop()


async def raw_direct(url: str, *, count: int, concurrency: int) -> float:
    async with _Raw(url) as raw:
        await raw.open_accounts(_accounts())
        commands = _deposits(count)
        started = time.perf_counter()

        async def deposit(command: DepositFunds) -> None:
            await raw.deposit(command.aggregate_id, command.amount)

        await _in_turns(deposit, commands, concurrency)
        return count / (time.perf_counter() - started)


async def raw_queued(url: str, *, count: int, concurrency: int, mode: Mode) -> float:
    box = _Raw(url)
    async with box as raw:
        await raw.open_accounts(_accounts())
        commands = [
            (c.command_id, "deposit", {"investor": c.aggregate_id, "amount": c.amount})
            for c in _deposits(count)
        ]
        box.start_workers(1, mode)
        started = time.perf_counter()
        await _in_turns(lambda c: raw.submit(*c), commands, concurrency)
        await wait_all(lambda: raw.done, count, timeout_s=600)
        return count / (time.perf_counter() - started)


# -- the run ---------------------------------------------------------------------------------


@dataclass
class Results:
    sagas: dict[str, list[float]] = field(default_factory=dict)
    latency: dict[str, Latencies] = field(default_factory=dict)
    direct: dict[str, list[float]] = field(default_factory=dict)
    queued: dict[str, list[float]] = field(default_factory=dict)

    def add(self, kind: dict[str, list[float]], name: str, value: float, unit: str) -> None:
        kind.setdefault(name, []).append(value)
        note(f"  {name}: {value:,.0f} {unit}")


ESKIT = "eskit worker"
RAW_EACH = "raw psycopg, a transaction per command"
RAW_BATCH = "raw psycopg, a transaction per batch"
RAW_BOOKKEEPING = "raw psycopg, the queue's bookkeeping alone"
PEER = "eventsourcing 9.5 process applications"


def _eskit(workers: int) -> str:
    return f"{ESKIT}, {workers} queue worker{'s' if workers > 1 else ''}"


Job = Callable[[], float]


class Bench:
    """The measurements, in turns, on one event loop (uvloop) and one PostgreSQL server."""

    def __init__(self, cluster: postgres_server.Cluster, config: Config, tmp: Path) -> None:
        self.cluster = cluster
        self.config = config
        self.tmp = tmp
        self.loop = Loop()
        self.results = Results()

    # each run in a fresh database (eskit's schema, or empty) or SQLite file

    def on_eskit(self, job: Callable[[str], Coroutine[Any, Any, T]]) -> T:
        with self.cluster.eskit_database() as url:
            return self.loop.run(job(url))

    def on_empty(self, job: Callable[[str], Coroutine[Any, Any, T]]) -> T:
        with self.cluster.empty_database() as url:
            return self.loop.run(job(url))

    def on_empty_sync(self, job: Callable[[str], T]) -> T:
        with self.cluster.empty_database() as url:
            return job(url)

    def on_pg_store(self, job: Callable[[TransactionalStore], Awaitable[float]]) -> float:
        async def run(url: str) -> float:
            async with PostgresEventStore.open(url) as store:
                return await job(store)

        return self.on_eskit(run)

    def on_sqlite(self, job: Callable[[TransactionalStore], Awaitable[float]]) -> float:
        async def run() -> float:
            folder = Path(tempfile.mkdtemp(dir=self.tmp))
            async with SQLiteEventStore.open(folder / "eskit.db") as store:
                return await job(store)

        return self.loop.run(run())

    # -- the three measurements

    def sagas(self) -> None:
        c, r = self.config, self.results
        bids = plan(c.bids)
        jobs: list[tuple[str, Job]] = [
            (_eskit(w), partial(self.on_eskit, partial(_eskit_sagas, bids=bids, workers=w)))
            for w in c.workers
        ]
        jobs += [
            (RAW_EACH, partial(self.on_empty, partial(raw_sagas, bids=bids, mode="each"))),
            (RAW_BATCH, partial(self.on_empty, partial(raw_sagas, bids=bids, mode="batch"))),
            (PEER, partial(self.on_empty_sync, partial(peer_sagas, bids=bids))),
        ]
        for turn in range(c.samples):
            note(f"bid sagas, {c.bids:,} bids queued at once: round {turn + 1} of {c.samples}")
            for name, job in rotated(jobs, turn):
                r.add(r.sagas, name, job(), "sagas/s")

    def latency(self) -> None:
        c = self.config
        bids = plan(int(c.rate * c.latency_s))
        note(f"latency: {len(bids.bids):,} bids at {c.rate}/s")
        for w in c.workers:
            job = partial(_eskit_latency, bids=bids, workers=w, rate=c.rate)
            self._noted(_eskit(w), self.on_eskit(job))
        modes: tuple[tuple[str, Mode], ...] = ((RAW_EACH, "each"), (RAW_BATCH, "batch"))
        for name, mode in modes:
            self._noted(
                name, self.on_empty(partial(raw_latency, bids=bids, mode=mode, rate=c.rate))
            )
        self._noted(PEER, self.on_empty_sync(partial(peer_latency, bids=bids, rate=c.rate)))

    def _noted(self, name: str, lat: Latencies) -> None:
        self.results.latency[name] = lat
        note(f"  {name}: p50 {lat.at(0.5):.1f} ms, p99 {lat.at(0.99):.1f} ms")

    def queue(self) -> None:
        c, r = self.config, self.results
        k, n = c.commands, c.concurrency
        direct: list[tuple[str, Job]] = [
            (
                "postgres: eskit",
                partial(self.on_pg_store, partial(eskit_direct, count=k, concurrency=n)),
            ),
            ("postgres: raw", partial(self.on_empty, partial(raw_direct, count=k, concurrency=n))),
            (
                "sqlite: eskit",
                partial(self.on_sqlite, partial(eskit_direct, count=k, concurrency=n)),
            ),
        ]
        queued: list[tuple[str, Job]] = []
        for backend, on_store in (("postgres", self.on_pg_store), ("sqlite", self.on_sqlite)):
            for w in c.queue_workers:
                name = f"{backend}: eskit, {w} queue worker{'s' if w > 1 else ''}"
                handled = partial(eskit_queued, count=k, concurrency=n, workers=w)
                queued.append((name, partial(on_store, handled)))
        modes: tuple[tuple[str, Mode], ...] = (
            (RAW_EACH, "each"),
            (RAW_BATCH, "batch"),
            (RAW_BOOKKEEPING, "bookkeeping"),
        )
        for name, mode in modes:
            raw = partial(raw_queued, count=k, concurrency=n, mode=mode)
            queued.append((f"postgres: {name}", partial(self.on_empty, raw)))
        for turn in range(c.samples):
            note(f"queue vs direct, {k:,} deposits, {n} in flight: round {turn + 1} of {c.samples}")
            for name, job in rotated(direct, turn):
                r.add(r.direct, name, job(), "cmd/s direct")
            for name, job in rotated(queued, turn):
                r.add(r.queued, name, job(), "cmd/s queued")

    def close(self) -> None:
        self.loop.close()


# -- the report ------------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return statistics.median(values)


def _range(values: Sequence[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}"


def _best_eskit(results: Results, config: Config) -> tuple[str, float]:
    rates = {w: _median(results.sagas[_eskit(w)]) for w in config.workers}
    best = max(rates, key=lambda w: rates[w])
    return _eskit(best), rates[best]


def sagas_table(results: Results, config: Config) -> Table:
    table = Table(
        title=f"Bid sagas end to end: {config.bids:,} bids queued at once, PostgreSQL (fsync on), "
        f"median of {config.samples}"
    )
    for column in ("contender", "sagas/s", "min-max", "vs raw per command", "vs raw per batch"):
        table.add_column(column, justify="left" if column == "contender" else "right")
    table.add_column("x eventsourcing", justify="right")
    each, batch = _median(results.sagas[RAW_EACH]), _median(results.sagas[RAW_BATCH])
    peer = _median(results.sagas[PEER])
    for name, values in results.sagas.items():
        value = _median(values)
        table.add_row(
            name,
            f"{value:,.0f}",
            _range(values),
            f"{value / each:.0%}",
            f"{value / batch:.0%}",
            f"{value / peer:.1f}x",
        )
    return table


def latency_table(results: Results, config: Config) -> Table:
    count = int(config.rate * config.latency_s)
    table = Table(
        title=f"Bid latency at {config.rate} bids/s for {config.latency_s:.0f} s ({count:,} bids): "
        "accepted → final event committed, ms"
    )
    table.add_column("contender")
    for column in ("p50", "p95", "p99", "p99 min-max (quarters)", "max", "bids/s sent"):
        table.add_column(column, justify="right")
    for name, lat in results.latency.items():
        low, high = lat.spread(0.99)
        table.add_row(
            name,
            f"{lat.at(0.5):.1f}",
            f"{lat.at(0.95):.1f}",
            f"{lat.at(0.99):.1f}",
            f"{low:.1f}-{high:.1f}",
            f"{lat.at(1.0):.1f}",
            f"{count / lat.seconds:.0f}",
        )
    return table


def best_latency(results: Results, config: Config) -> str:
    return min((_eskit(w) for w in config.workers), key=lambda n: results.latency[n].at(0.99))


def hops_table(results: Results, config: Config) -> Table:
    name = best_latency(results, config)
    table = Table(title=f"Where a bid's time goes: {name}, ms per bid")
    table.add_column("step")
    for column in ("p50", "p90", "p99"):
        table.add_column(column, justify="right")
    for step, values in results.latency[name].hops.items():
        table.add_row(
            step,
            f"{percentile(values, 0.5):.1f}",
            f"{percentile(values, 0.9):.1f}",
            f"{percentile(values, 0.99):.1f}",
        )
    return table


def queue_rows(results: Results) -> list[tuple[str, str, list[float] | None, list[float]]]:
    """(backend, contender, direct samples, queued samples) per queued contender."""
    rows = []
    for name, queued in results.queued.items():
        backend, contender = name.split(": ", 1)
        if contender.startswith("eskit"):
            direct = results.direct[f"{backend}: eskit"]
        elif contender == RAW_BOOKKEEPING:
            direct = None
        else:
            direct = results.direct[f"{backend}: raw"]
        rows.append((backend, contender, direct, queued))
    return rows


def queue_table(results: Results, config: Config) -> Table:
    table = Table(
        title=f"Queue vs direct: {config.commands:,} DepositFunds over {ACCOUNTS} accounts, "
        f"{config.concurrency} in flight, cmd/s, median of {config.samples}"
    )
    for column in ("backend", "contender (queued)", "direct", "min-max", "queued", "min-max"):
        table.add_column(column, justify="left" if column[0] in "bc" else "right")
    table.add_column("queue costs (direct ÷ queued)", justify="right")
    for backend, contender, direct, queued in queue_rows(results):
        q = _median(queued)
        table.add_row(
            backend,
            contender,
            f"{_median(direct):,.0f}" if direct else "",
            _range(direct) if direct else "",
            f"{q:,.0f}",
            _range(queued),
            f"{_median(direct) / q:.1f}x" if direct else "",
        )
    return table


def targets(results: Results, config: Config) -> list[str]:
    lines = []
    name, rate = _best_eskit(results, config)
    each, batch = _median(results.sagas[RAW_EACH]), _median(results.sagas[RAW_BATCH])
    lines.append(
        f"target bid sagas ≥ {SAGA_TARGET:.0f}/s: {'met' if rate >= SAGA_TARGET else 'NOT MET'} "
        f"({name}: {rate:,.0f}/s; the limit here: {each:,.0f}/s a transaction per command, "
        f"{batch:,.0f}/s a transaction per batch)"
    )
    best = best_latency(results, config)
    p99 = results.latency[best].at(0.99)
    raw_p99 = min(results.latency[n].at(0.99) for n in (RAW_EACH, RAW_BATCH))
    lines.append(
        f"target bid latency p99 ≤ {LATENCY_TARGET_MS:.0f} ms at {config.rate}/s: "
        f"{'met' if p99 <= LATENCY_TARGET_MS else 'NOT MET'} ({best}: p99 {p99:.1f} ms; "
        f"the limit here: p99 {raw_p99:.1f} ms)"
    )
    for backend in ("postgres", "sqlite"):
        direct = _median(results.direct[f"{backend}: eskit"])
        queued = {
            n: _median(v) for n, v in results.queued.items() if n.startswith(f"{backend}: eskit")
        }
        best_q = max(queued, key=lambda n: queued[n])
        ratio = direct / queued[best_q]
        line = (
            f"target {backend} queue ≤ {QUEUE_TARGET}x direct: "
            f"{'met' if ratio <= QUEUE_TARGET else 'NOT MET'} ({best_q.split(': ')[1]}: "
            f"{ratio:.1f}x, {queued[best_q]:,.0f} vs {direct:,.0f} cmd/s"
        )
        if backend == "postgres":
            raw = _median(results.direct["postgres: raw"])
            raw_best = max(_median(results.queued[f"postgres: {n}"]) for n in (RAW_EACH, RAW_BATCH))
            line += f"; the limit here: raw {raw / raw_best:.1f}x"
        lines.append(line + ")")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer bids and commands, 2 samples")
    parser.add_argument("--samples", type=int, help="samples per cell (default 3; 2 with --quick)")
    args = parser.parse_args()
    config = Config.of(args.quick, args.samples)
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    with (
        tempfile.TemporaryDirectory(prefix="eskit-bench-") as tmp,
        postgres_server.start() as cluster,
    ):
        settings = cluster.settings()
        note(
            f"PostgreSQL {settings['server_version']}, fsync {settings['fsync']}; {os.cpu_count()} cores"
        )
        bench = Bench(cluster, config, Path(tmp))
        try:
            bench.sagas()
            bench.latency()
            bench.queue()
        finally:
            bench.close()
    console = Console(width=150)
    results = bench.results
    for table in (
        sagas_table(results, config),
        latency_table(results, config),
        hops_table(results, config),
        queue_table(results, config),
    ):
        console.print(table)
    for line in targets(results, config):
        console.print(line)
    console.print(
        f"{os.cpu_count()} cores; load average (1 min) {load_before:.2f} before the run, "
        f"{os.getloadavg()[0]:.2f} after; {time.perf_counter() - started:.0f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
