"""Running measurements: contenders taking turns, threads started together, one event
loop per workload, and stopping cleanly on Ctrl-C."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any, TypeVar

import uvloop

T = TypeVar("T")

STOP = threading.Event()
"""Set on Ctrl-C / SIGTERM: worker threads stop at their next command."""


class StopRequestedError(Exception):
    """A worker saw STOP and gave up."""


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
    """One event loop kept for a whole workload, so async stores stay open between turns.

    uvloop, as ``eskit serve`` and ``eskit worker`` run on: eskit is measured as it runs in
    production (asyncio's own loop costs a PostgreSQL append about a third more CPU).
    """

    def __init__(self) -> None:
        self._runner = asyncio.Runner(loop_factory=uvloop.new_event_loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._runner.run(coro)

    def close(self) -> None:
        self._runner.close()
