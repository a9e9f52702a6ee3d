"""Loops a process runs as tasks beside whatever else it serves: the relay and consumers
(:class:`MessagingTasks`), and any other ``run(stop)`` loop (:class:`BackgroundTasks`).

The relay and each consumer run under a lease (``relay:<name>``, ``consumer:<name>``; see
:mod:`eskit.store.leasing`): a second process running them stands by and takes over when
the first stops or dies. On the in-process bus, which reaches no other process, the relay
and the consumers are one whole under one lease (``messaging:in-process``): a consumer
hears only the relay of its own process.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Awaitable, Callable, Sequence

from eskit.messaging.consumer import Consumer, ConsumerRunner
from eskit.messaging.inprocess import InProcessBus
from eskit.messaging.port import Bus
from eskit.messaging.relay import Relay, RelayStatus
from eskit.store import TransactionalStore
from eskit.store.leases import lease_info
from eskit.store.leasing import DEFAULT_LEASE_RETRY_S, DEFAULT_LEASE_TTL_S, LeaseKeeper

__all__ = ["CONSUMER_LEASE_PREFIX", "IN_PROCESS_LEASE", "BackgroundTasks", "MessagingTasks"]

_log = logging.getLogger(__name__)

RESTART_DELAY_S = 1.0

Run = Callable[[asyncio.Event], Awaitable[None]]
"""A loop that works until the event it is given is set."""

CONSUMER_LEASE_PREFIX = "consumer:"
"""The consumer ``billing`` runs under the lease ``consumer:billing``."""
IN_PROCESS_LEASE = "messaging:in-process"
"""The lease the relay and consumers on the in-process bus run under, together."""


async def keep_running(name: str, run: Run, stop: asyncio.Event) -> None:
    """Run ``run(stop)`` until ``stop`` is set; after a failure, log it and start it again
    after :data:`RESTART_DELAY_S`."""
    while not stop.is_set():
        try:
            await run(stop)
        except Exception:
            # what it had not finished (acknowledged, published, recorded) comes again
            _log.exception("%s failed; restarting in %.0f s", name, RESTART_DELAY_S)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), RESTART_DELAY_S)


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
            asyncio.create_task(keep_running(name, run, self._stop), name=f"eskit-{name}")
            for name, run in work
        ]

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
    """Runs a relay and consumers until stopped; a task that fails is logged and restarted.

    With ``leases`` (the default) each works only while this process holds its lease,
    which lasts ``lease_ttl_s`` unless renewed; one that does not hold it tries again every
    ``lease_retry_s``.
    """

    def __init__(
        self,
        store: TransactionalStore,
        bus: Bus,
        *,
        relay: Relay | None = None,
        consumers: Sequence[Consumer] = (),
        leases: bool = True,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
        lease_retry_s: float = DEFAULT_LEASE_RETRY_S,
    ) -> None:
        self.store = store
        self.bus = bus
        self.relay = relay
        self.runners = [ConsumerRunner(store, bus, consumer) for consumer in consumers]
        self.leases = (
            LeaseKeeper(store, ttl_s=lease_ttl_s, retry_s=lease_retry_s) if leases else None
        )
        """Holds the relay's and consumers' leases while started (None: run without)."""
        self._tasks = BackgroundTasks()

    @property
    def relay_lease(self) -> str | None:
        """The name of the lease the relay runs under (None: no relay, or no leases)."""
        if self.relay is None or self.leases is None:
            return None
        return IN_PROCESS_LEASE if isinstance(self.bus, InProcessBus) else self.relay.checkpoint

    async def start(self) -> None:
        """Take the leases that are free, start the relay and every consumer, each in a task
        of its own (on the in-process bus: one task, which runs them all under one lease)."""
        work: list[tuple[str, str, Run]] = []
        if self.relay is not None:
            work.append((f"relay {self.relay.name}", self.relay.checkpoint, self.relay.run))
        work += [
            (f"consumer {r.consumer.name}", CONSUMER_LEASE_PREFIX + r.consumer.name, r.run)
            for r in self.runners
        ]
        keeper = self.leases
        if keeper is None:
            self._tasks.start([(name, run) for name, _, run in work])
        elif isinstance(self.bus, InProcessBus) and work:
            await keeper.try_first([IN_PROCESS_LEASE])
            self._tasks.start([("messaging", _leased(keeper, IN_PROCESS_LEASE, _together(work)))])
        else:
            await keeper.try_first([lease for _, lease, _ in work])
            self._tasks.start([(name, _leased(keeper, lease, run)) for name, lease, run in work])

    def relay_status(self) -> RelayStatus | None:
        """The relay's status with its lease as this process last saw it (None: no relay)."""
        if self.relay is None:
            return None
        status = self.relay.status()
        lease = self.relay_lease
        if lease is None or self.leases is None:
            return status
        seen = self.leases.last_seen.get(lease)
        return dataclasses.replace(status, lease=lease_info(seen, here=self.leases.here(lease)))

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop every task (a batch in hand is finished first, for up to ``grace_s``)."""
        await self._tasks.stop(grace_s)
        await self.bus.close()


def _leased(keeper: LeaseKeeper, lease: str, run: Run) -> Run:
    """``run``, working only while ``keeper`` holds ``lease``."""

    async def hold(stop: asyncio.Event) -> None:
        await keeper.hold(lease, stop, run)

    return hold


def _together(work: Sequence[tuple[str, str, Run]]) -> Run:
    """One loop running every loop of ``work`` at once, each restarted when it fails."""

    async def run(stop: asyncio.Event) -> None:
        await asyncio.gather(*(keep_running(name, each, stop) for name, _, each in work))

    return run
