"""The worker process SIGKILLed twenty times under a stream of bids loses, doubles and
creates no money, and leaves no saga stuck without a reason.

The test process queues bids (and deposits and withdrawals) through the command queue,
as the HTTP API does, while ``eskit worker`` runs the service's projections, sagas and
queue workers over the same PostgreSQL database. Twenty times the worker is SIGKILLed at a
random moment (in a claim, a handling, a saga batch, a commit: wherever it is) and started
again. Then the writes stop and one last worker finishes the work. Afterwards, from the
events themselves (not the read models):

* every invoice is financed by exactly one bid, or by none;
* every investor's available + reserved + financed equals deposits - withdrawals, nothing
  is left reserved, and what it financed is what the invoices it won are worth;
* every bid's saga is completed or compensated (or shows why it is not), and no command is
  dead.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import subprocess
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, open_store, require_transactions
from eskit.testing.subprocesses import eskit_command, free_leases, kill_hard
from invoice_financing.app import InvoiceFinancing
from invoice_financing.financing.commands import (
    AddIssuer,
    BidOnInvoice,
    DepositFunds,
    OpenInvestorAccount,
    PutInvoiceForSale,
    WithdrawFunds,
)
from invoice_financing.financing.domain import InvestorAccount
from invoice_financing.service import service

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[3]
ROUNDS = 20
INVESTORS = 12
INVOICES = 40
LATE_INVOICES = 5
FUNDS = 2_000


def _environment(url: str) -> dict[str, str]:
    env = dict(os.environ)
    paths = (str(ROOT / "services"), str(ROOT), env.get("PYTHONPATH"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    env |= {
        "ESKIT_SERVICE": "invoice_financing.service:service",
        "ESKIT_DATABASE_URL": url,
        "ESKIT_QUEUE_WORKERS": "2",
        "ESKIT_QUEUE_LEASE_S": "1",
        # the test frees a killed worker's leases; a short ttl bounds the wait if it could not
        "ESKIT_LEASE_TTL_S": "1",
        "ESKIT_LEASE_RETRY_S": "0.1",
        "ESKIT_BUS_URL": "",
        "ESKIT_METRICS_PORT": "0",  # workers of parallel tests would share the default port
    }
    return env


def _start_worker(url: str, folder: Path, round_no: int) -> subprocess.Popen[str]:
    with (folder / f"worker-{round_no}.log").open("w") as errors:
        return subprocess.Popen(
            [*eskit_command(), "worker"],
            stdout=subprocess.PIPE,
            stderr=errors,
            text=True,
            cwd=folder,
            env=_environment(url),
        )


async def _started(proc: subprocess.Popen[str]) -> None:
    assert proc.stdout is not None
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
    assert line.startswith("running"), f"worker said {line!r}, exit code {proc.poll()}"


async def _set_up(app: InvoiceFinancing) -> tuple[list[str], dict[str, int]]:
    """Issuers, funded investors and invoices, handled at once; the investors and invoices."""
    handle = app.dispatcher.handle
    await handle(AddIssuer(aggregate_id="issuer", name="Acme"))
    investors = [f"investor-{n:02d}" for n in range(INVESTORS)]
    for investor in investors:
        await handle(OpenInvestorAccount(aggregate_id=investor, name=investor))
        await handle(DepositFunds(aggregate_id=investor, amount=FUNDS, currency="EUR"))
    invoices: dict[str, int] = {}
    rng = random.Random(7)
    yesterday = datetime.now(UTC).date() - timedelta(days=1)
    for n in range(INVOICES + LATE_INVOICES):
        invoice, amount = f"invoice-{n:02d}", rng.randrange(100, 900)
        due = yesterday if n >= INVOICES else date(2031, 1, 1)
        await handle(
            PutInvoiceForSale(
                aggregate_id=invoice,
                issuer_id="issuer",
                amount=amount,
                currency="EUR",
                due_date=due,
            )
        )
        invoices[invoice] = amount
    return investors, invoices


async def _bid(
    app: InvoiceFinancing, investors: list[str], invoices: dict[str, int], stop: asyncio.Event
) -> int:
    """Queue bids (and some deposits and withdrawals), ~150 a second, until ``stop``."""
    rng = random.Random(11)
    names = list(invoices)
    n = 0
    while not stop.is_set():
        investor = rng.choice(investors)
        roll = rng.random()
        if roll < 0.1:
            command: object = DepositFunds(aggregate_id=investor, amount=50, currency="EUR")
        elif roll < 0.15:
            command = WithdrawFunds(aggregate_id=investor, amount=30, currency="EUR")
        else:
            invoice = rng.choice(names)
            command = BidOnInvoice(
                aggregate_id=investor,
                invoice_id=invoice,
                amount=invoices[invoice],
                currency="EUR",
                bid_id=uuid.uuid4(),
            )
        await app.queue.submit(command)  # type: ignore[arg-type]
        n += 1
        await asyncio.sleep(0.006)
    return n


async def _quiet(store: EventStoreBackend, timeout_s: float = 120.0) -> None:
    """Wait until no command is due or running and every bid's saga has ended."""
    db = require_transactions(store, "tests")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        depth = await db.committed.queue.depth(datetime.now(UTC))
        running = await db.committed.sagas.list(saga="financing_bid", status="running", limit=1)
        undoing = await db.committed.sagas.list(
            saga="financing_bid", status="compensating", limit=1
        )
        if depth.ready == depth.running == 0 and not running and not undoing:
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"still busy after {timeout_s} s: {depth}")


async def test_sigkilled_worker_loses_doubles_and_creates_no_money(
    postgres_url: str, tmp_path: Path
) -> None:
    rng = random.Random(20)
    async with open_store(postgres_url) as store:
        db = require_transactions(store, "tests")
        app = InvoiceFinancing(store)
        investors, invoices = await _set_up(app)
        stop = asyncio.Event()
        writer = asyncio.create_task(_bid(app, investors, invoices, stop))
        progress: list[int] = []
        try:
            for round_no in range(ROUNDS):
                proc = _start_worker(postgres_url, tmp_path, round_no)
                try:
                    await _started(proc)
                    await asyncio.sleep(rng.uniform(0.1, 1.0))
                finally:
                    code = await asyncio.to_thread(kill_hard, proc)
                    # the next worker starts working at once, not once these expired
                    await free_leases(db, proc.pid)
                log = (tmp_path / f"worker-{round_no}.log").read_text()
                assert code == -signal.SIGKILL, log
                progress.append(len(await db.committed.queue.list(status="done", limit=100_000)))
        finally:
            stop.set()
            queued = await writer

        assert queued > 300
        # the killed workers did work (how much each did depends on the machine's load)
        assert len(set(progress)) >= 4, progress

        settings = EskitSettings(grpc_port=0, grpc_query_port=0, queue_workers=2, queue_lease_s=1.0)
        async with ServiceRuntime(service, store, settings):
            await _quiet(store)

        financed = await _assert_money_adds_up(app, investors, invoices)
        bids = await db.committed.sagas.list(saga="financing_bid", limit=100_000)
        assert bids
        assert all(s.status in ("completed", "compensated") or s.reason for s in bids)
        assert Counter(s.status for s in bids)["completed"] == financed
        assert await db.committed.queue.list(status="dead", limit=10) == []
        withdrawn = [
            i
            for i in invoices
            if any(e.event_type == "financing.InvoiceWithdrawn" for e in await store.read_stream(i))
        ]
        late = {f"invoice-{n:02d}" for n in range(INVOICES, INVOICES + LATE_INVOICES)}
        assert set(withdrawn) <= late


async def _assert_money_adds_up(
    app: InvoiceFinancing, investors: list[str], invoices: dict[str, int]
) -> int:
    """Assert the money adds up (see the module); how many invoices were financed."""
    store = app.store
    won: dict[str, list[str]] = {}
    for invoice in invoices:
        events = await store.read_stream(invoice)
        financed = [e for e in events if e.event_type == "financing.InvoiceFinanced"]
        assert len(financed) <= 1, f"{invoice} financed {len(financed)} times"
        for event in financed:
            won.setdefault(event.data["investor_id"], []).append(invoice)
    repository = next(
        h.repository
        for h in app.dispatcher.handlers
        if h.repository.aggregate_type is InvestorAccount
    )
    for investor in investors:
        account = await repository.load(investor)
        assert isinstance(account, InvestorAccount)
        events = await store.read_stream(investor)
        paid_in = sum(
            e.data["amount"] for e in events if e.event_type == "financing.FundsDeposited"
        )
        paid_out = sum(
            e.data["amount"] for e in events if e.event_type == "financing.FundsWithdrawn"
        )
        assert account.available + account.reserved + account.financed == paid_in - paid_out
        assert min(account.available, account.reserved, account.financed) >= 0
        assert account.reserved == 0, f"{investor} has {account.reserved} still reserved"
        assert account.financed == sum(invoices[i] for i in won.get(investor, []))
    return sum(len(w) for w in won.values())
