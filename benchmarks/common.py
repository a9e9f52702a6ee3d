"""Shared pieces of the benchmarks: settings, result rows, timing helpers, workload data."""

from __future__ import annotations

import asyncio
import statistics
import sys
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from rich.console import Console

T = TypeVar("T")

Role = Literal["eskit", "raw", "peer"]
Backend = Literal["postgres", "sqlite"]

STOP = threading.Event()
"""Set on Ctrl-C / SIGTERM: worker threads stop at their next command."""

progress = Console(stderr=True, highlight=False)


class StopRequestedError(Exception):
    """A worker saw STOP and gave up."""


@dataclass(frozen=True)
class Settings:
    """How much work each measurement does; ``quick`` must finish in under 5 minutes."""

    quick: bool
    samples: int
    append_seconds: float
    """How long the writers of one append sample keep appending (fixed time)."""
    load_reps: dict[int, int]
    """Loads averaged into one latency sample, per stream length."""
    read_all_events: int = 100_000
    read_all_batches: tuple[int, ...] = (500, 1_000, 5_000)
    """Batch sizes tried for eskit's read_all."""
    read_all_other_batches: tuple[int, ...] = (1_000, 5_000)
    """Page sizes tried for raw and eventsourcing (the best one is shown)."""
    writers: tuple[int, ...] = (1, 4, 16)
    batch_writers: tuple[int, ...] = (1, 4)
    batch_size: int = 100
    load_lengths: tuple[int, ...] = (10, 100, 1_000, 10_000)
    catchup_accounts: int = 200
    """Catch-up preload: this many accounts of ``events_per_account`` events each."""
    events_per_account: int = 100
    catchup_batches: tuple[int, ...] = (500, 2_000)
    """Batch sizes of the catch-up (eskit's ``batch_size``, raw's and eventsourcing's pages)."""
    latency_seconds: float = 5.0
    """How long the writer of the latency workload appends."""
    latency_rate: int = 200
    """Appends per second of the latency workload's writer."""
    rebuild_accounts: int = 1_000
    """Rebuild preload: this many accounts of ``events_per_account`` events each."""
    rebuild_batch: int = 2_000
    rebuild_samples: int = 2
    service_samples: int = 1
    """Rounds of the service load, each contender and in-flight level once per round."""
    service_seconds: float = 4.0
    """How long one service load sample is measured, after ``service_warmup_s``."""
    service_warmup_s: float = 1.0
    service_in_flight: tuple[int, ...] = (16, 32, 64)
    """Concurrent requests of the load generator (one keep-alive connection each)."""
    service_accounts: int = 1_000
    service_sqlite_normal: bool = False
    """Also serve eskit on SQLite with ``synchronous=NORMAL``."""

    @classmethod
    def for_mode(cls, quick: bool) -> Settings:
        if quick:
            return cls(
                quick=True,
                samples=3,
                append_seconds=1.0,
                load_reps={10: 50, 100: 20, 1_000: 5, 10_000: 2},
            )
        return cls(
            quick=False,
            samples=5,
            append_seconds=2.0,
            load_reps={10: 200, 100: 50, 1_000: 10, 10_000: 2},
            read_all_batches=(250, 500, 1_000, 2_000, 5_000),
            read_all_other_batches=(500, 1_000, 5_000),
            catchup_accounts=1_000,
            latency_seconds=20.0,
            rebuild_accounts=10_000,
            rebuild_samples=3,
            service_samples=3,
            service_seconds=10.0,
            service_warmup_s=2.0,
            service_sqlite_normal=True,
        )


@dataclass
class Row:
    """One cell of the result table: one contender on one case, several samples."""

    workload: str
    backend: Backend
    case: str
    contender: str
    role: Role
    unit: Literal["ev/s", "cmd/s", "ms", "s"]
    samples: list[float] = field(default_factory=list)
    pair: str = ""
    """eskit rows are compared with the peer row of the same ``pair`` ("" or e.g. "snapshot")."""
    is_reference: bool = True
    """The row a ratio uses for its role (one raw / one peer row per case and pair)."""
    value: float | None = None
    """Shown instead of the median when set: a latency percentile over every append of the
    run, whose ``samples`` are the same percentile in each part of the run (the range)."""
    extra: dict[str, list[float]] = field(default_factory=dict)
    """Further figures per sample, for a workload with a table of its own (the service
    load: latency percentiles, errors, CPU)."""

    @property
    def median(self) -> float:
        if self.value is not None:
            return self.value
        return statistics.median(self.samples)

    @property
    def higher_is_better(self) -> bool:
        return self.unit in ("ev/s", "cmd/s")


def check_stop() -> None:
    if STOP.is_set():
        raise StopRequestedError


def rotated(items: Sequence[T], turn: int) -> list[T]:
    """``items`` starting at ``turn``: contenders take turns going first in each round."""
    k = turn % len(items) if items else 0
    return [*items[k:], *items[:k]]


def timed_threads(count: int, work: Callable[[int], int]) -> tuple[float, int]:
    """Run ``work(0..count-1)`` on ``count`` threads started together.

    Returns the wall seconds from the common start until the last thread ended, and the
    sum of what the ``work`` calls returned (events written).
    """
    barrier = threading.Barrier(count + 1)
    errors: list[BaseException] = []
    done = [0] * count

    def body(index: int) -> None:
        try:
            barrier.wait()
            done[index] = work(index)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    barrier.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed, sum(done)


class Loop:
    """One event loop kept for a whole workload, so async stores stay open between turns."""

    def __init__(self) -> None:
        self._runner = asyncio.Runner()

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def close(self) -> None:
        self._runner.close()


def note(message: str) -> None:
    progress.print(f"[dim]{time.strftime('%H:%M:%S')}[/dim] {message}")


def fail(message: str) -> None:
    progress.print(f"[red]{message}[/red]")
    sys.stderr.flush()


# -- the workload's data: bank-account events -------------------------------------------

STREAM_TYPE = "BankAccount"
CURRENCY = "USD"


def opened_data(index: int) -> dict[str, Any]:
    """The fields of an AccountOpened event."""
    return {
        "email": f"holder{index}@example.com",
        "address": f"{index} Main Street, Springfield",
        "first_name": "Ada",
        "last_name": f"Holder{index}",
        "balance": 0,
        "currency": CURRENCY,
        "status": "active",
    }


def deposit_data(index: int) -> dict[str, Any]:
    """The fields of the ``index``-th MoneyDeposited event of a stream."""
    return {"amount": 100 + index % 900, "currency": CURRENCY, "payment_id": f"pay-{index:08d}"}
