"""What the Prometheus metrics cost command handling: the same deposits with the metrics'
calls in place and with them replaced by no-ops, in turns, on SQLite and in memory.

    python benchmarks/metrics_overhead.py            # 60 chunks of 200 commands per store
    python benchmarks/metrics_overhead.py --quick    # 20 chunks

Prints the median time per command of each and the difference. A quick local check, not
the benchmark suite's rigour: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import tempfile
import time
import timeit
import uuid
from collections.abc import Iterator

from bank_accounts.app import build_handler
from bank_accounts.commands import DepositMoney, OpenAccount
from eskit.app import handling, repository
from eskit.store import EventStoreBackend, open_store

CHUNK = 200


@contextlib.contextmanager
def metrics_off() -> Iterator[None]:
    """The command path without the metrics meanwhile: ``handle`` undecorated, the
    repository's append count a no-op."""
    measured = handling.CommandHandler.handle
    saved = repository.record_append
    handling.CommandHandler.handle = measured.__wrapped__  # type: ignore[attr-defined,method-assign]
    repository.record_append = lambda *args, **kwargs: None
    try:
        yield
    finally:
        handling.CommandHandler.handle = measured  # type: ignore[method-assign]
        repository.record_append = saved


async def interleaved(store: EventStoreBackend, chunks: int) -> tuple[list[float], list[float]]:
    """Seconds per command with the metrics on and off, in alternating chunks of
    ``CHUNK`` deposits over 20 accounts (one store, one handler): a machine whose load
    drifts slows both alike."""
    handler = build_handler(store)
    accounts = []
    for i in range(20):
        opened = await handler.handle(
            OpenAccount(
                email=f"a{i}@example.com", address="1 Main St", first_name="A", last_name="B"
            )
        )
        accounts.append(opened.aggregate_id)
    on: list[float] = []
    off: list[float] = []
    for n in range(chunks):
        timings, switched = (on, contextlib.nullcontext()) if n % 2 else (off, metrics_off())
        with switched:
            started = time.perf_counter()
            for i in range(CHUNK):
                command = DepositMoney(
                    aggregate_id=accounts[i % 20], amount=1, payment_id=str(uuid.uuid4())
                )
                await handler.handle(command)
            timings.append((time.perf_counter() - started) / CHUNK)
    return on, off


def calls_alone() -> float:
    """Seconds the metrics' calls of one command take by themselves (timeit, best of 5)."""
    timer = timeit.Timer(
        "record_command('DepositMoney', None, 0.001); record_append('BankAccount', 1)",
        "from eskit.observability.metrics import record_command, record_append",
    )
    return min(timer.repeat(5, 100_000)) / 100_000


async def main(chunks: int) -> None:
    print(f"the metrics' calls of one command alone: {calls_alone() * 1e6:.2f} µs")
    with tempfile.TemporaryDirectory() as tmp:
        for name, url in (("memory", "memory://"), ("sqlite", f"sqlite:///{tmp}/events.db")):
            async with open_store(url, migrate=True) as store:
                on, off = await interleaved(store, chunks)
            m_on, m_off = statistics.median(on), statistics.median(off)
            print(
                f"{name:7} metrics on {m_on * 1e6:8.1f} µs/command   off {m_off * 1e6:8.1f} "
                f"µs/command   overhead {(m_on - m_off) / m_off * 100:+.1f} % "
                f"(medians of {len(on)} chunks of {CHUNK})"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    asyncio.run(main(20 if options.quick else 60))
