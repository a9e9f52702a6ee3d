"""Loops a process runs as tasks beside whatever else it serves: the relay and consumers
(:class:`MessagingTasks`), and any other ``run(stop)`` loop (:class:`BackgroundTasks`)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence

from eskit.messaging.consumer import Consumer, ConsumerRunner
from eskit.messaging.port import Bus
from eskit.messaging.relay import Relay
from eskit.store import TransactionalStore

__all__ = ["BackgroundTasks", "MessagingTasks"]

_log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0

Run = Callable[[asyncio.Event], Awaitable[None]]
"""A loop that works until the event it is given is set."""


class BackgroundTasks:
    """Named ``run(stop)`` loops, each in a task of its own; one that fails is logged and
    started again after :data:`RESTART_DELAY_S`, until :meth:`stop`."""

    def __init__(self) -> None:
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def start(self, work: Sequence[tuple[str, Run]]) -> None:
        """Start each loop of ``work`` (name, run) in a task named after it."""
        self._stop = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self._keep_running(name, run), name=f"eskit-{name}")
            for name, run in work
        ]

    async def _keep_running(self, name: str, run: Run) -> None:
        while not self._stop.is_set():
            try:
                await run(self._stop)
            except Exception:
                # what it had not finished (acknowledged, published, recorded) comes again
                _log.exception("%s failed; restarting in %.0f s", name, RESTART_DELAY_S)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), RESTART_DELAY_S)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop every loop; each finishes what it has in hand, for up to ``grace_s``."""
        self._stop.set()
        tasks, self._tasks = self._tasks, []
        if not tasks:
            return
        _, late = await asyncio.wait(tasks, timeout=grace_s)
        for task in late:
            task.cancel()
        await asyncio.gather(*late, return_exceptions=True)


class MessagingTasks:
    """Runs a relay and consumers until stopped; a task that fails is logged and restarted."""

    def __init__(
        self,
        store: TransactionalStore,
        bus: Bus,
        *,
        relay: Relay | None = None,
        consumers: Sequence[Consumer] = (),
    ) -> None:
        self.store = store
        self.bus = bus
        self.relay = relay
        self.runners = [ConsumerRunner(store, bus, consumer) for consumer in consumers]
        self._tasks = BackgroundTasks()

    async def start(self) -> None:
        """Start the relay and every consumer, each in a task of its own."""
        work: list[tuple[str, Run]] = []
        if self.relay is not None:
            work.append((f"relay {self.relay.name}", self.relay.run))
        work += [(f"consumer {r.consumer.name}", r.run) for r in self.runners]
        self._tasks.start(work)

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop every task (a batch in hand is finished first, for up to ``grace_s``)."""
        await self._tasks.stop(grace_s)
        await self.bus.close()
