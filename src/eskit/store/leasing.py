"""Working on a named loop only while holding its lease: hot standby, heartbeats, hand-over.

A :class:`LeaseKeeper` runs loops (a projection, the relay, a consumer) for one holder.
For each name it tries to take the lease (see :mod:`eskit.store.leases`) every
``retry_s``; while another process holds it, it stands by and does no work. Once it holds
the lease it runs the loop and renews the lease every ``ttl_s / 3``. If it cannot renew
before the lease would end (the database is unreachable, the process was paused, another
took the lease), the loop is told to stop at once and cancelled if it has not within
``ttl_s / 3`` more, and the keeper goes back to standing by: two holders never work on one
name for longer than that. A clean stop releases the lease, so a standby takes over within
``retry_s``; a holder that dies leaves its lease to expire, and a standby takes over within
``ttl_s + retry_s``.

The loop itself still commits by compare-and-set (checkpoints, saga versions): leases save
the work done twice, correctness never depended on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Collection

from eskit.store.leases import Lease, LeaseHolder
from eskit.store.unit_of_work import TransactionalStore

__all__ = ["DEFAULT_LEASE_RETRY_S", "DEFAULT_LEASE_TTL_S", "LeaseKeeper", "Work", "new_holder"]

_log = logging.getLogger("eskit.leases")

DEFAULT_LEASE_TTL_S = 5.0
"""How long a lease lasts without a heartbeat (``ESKIT_LEASE_TTL_S``)."""
DEFAULT_LEASE_RETRY_S = 1.0
"""How often a standby tries to take a lease (``ESKIT_LEASE_RETRY_S``)."""

Work = Callable[[asyncio.Event], Awaitable[None]]
"""A loop that works until the event it is given is set (a stop, or the lease lost)."""


def new_holder() -> LeaseHolder:
    """A holder for this process: its host and pid, and an id no other runner shares."""
    host, pid = socket.gethostname(), os.getpid()
    return LeaseHolder(f"{host}:{pid}:{uuid.uuid4().hex[:12]}", host, pid)


class LeaseKeeper:
    """Runs loops under leases taken in ``store`` for ``holder`` (a new one by default)."""

    def __init__(
        self,
        store: TransactionalStore,
        *,
        ttl_s: float = DEFAULT_LEASE_TTL_S,
        retry_s: float = DEFAULT_LEASE_RETRY_S,
        holder: LeaseHolder | None = None,
    ) -> None:
        for label, value in (("ttl_s", ttl_s), ("retry_s", retry_s)):
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{label} must be a positive number of seconds, not {value!r}")
        self.store = store
        self.ttl_s = ttl_s
        self.retry_s = retry_s
        self.holder = holder or new_holder()
        self._held: dict[str, bool] = {}
        self._valid_until: dict[str, float] = {}
        self._errors: dict[str, str] = {}
        self._first: dict[str, Lease | None] = {}
        self.last_seen: dict[str, Lease] = {}
        """The lease on each name as this keeper last read it (its own, or the holder's)."""

    async def try_first(self, names: Collection[str]) -> None:
        """Try to take the leases on ``names`` now, all at once, so that :meth:`hold` starts
        working at once on those it got (instead of after its own first try)."""
        leases = await asyncio.gather(*(self._take(name) for name in names))
        for name, lease in zip(names, leases, strict=True):
            self._first[name] = lease
            self._held[name] = lease is not None and lease.held_by(self.holder.id)

    def here(self, name: str) -> bool | None:
        """None if this keeper does not run ``name``; else whether it holds its lease now."""
        return self._held.get(name)

    async def hold(
        self,
        name: str,
        stop: asyncio.Event,
        work: Work,
        *,
        standing_by: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        """Run ``work`` while holding the lease on ``name``, until ``stop`` is set.

        ``work`` gets an event set when it must stop: ``stop``, or the lease lost (then it
        is run again once the lease is taken again). ``standing_by``, if given, is called
        after each failed try (to follow what the holder does). What ``work`` raises is
        raised here, the lease released first.
        """
        self._held.setdefault(name, False)
        announced = False
        try:
            while not stop.is_set():
                # a lease tried by try_first is used once: None there means unreachable
                lease = self._first.pop(name) if name in self._first else await self._take(name)
                if lease is None or not lease.held_by(self.holder.id):
                    if lease is not None and not announced:
                        _log.info(
                            "%s is held by %s (pid %s): standing by", name, lease.host, lease.pid
                        )
                    announced = announced or lease is not None
                    if standing_by is not None:
                        with contextlib.suppress(Exception):
                            await standing_by()
                    await _wait(stop, self.retry_s)
                    continue
                announced = False
                await self._work_while_held(name, stop, work)
        finally:
            first = self._first.pop(name, None)
            if first is not None and first.held_by(self.holder.id):
                await self._release(name)  # taken by try_first, stopped before it was used
            self._held.pop(name, None)
            self._valid_until.pop(name, None)

    async def _take(self, name: str) -> Lease | None:
        """Try to take (or renew) the lease; the lease as it stands, None if unreachable."""
        asked = time.monotonic()
        try:
            async with self.store.transaction() as tx:
                lease = await tx.leases.acquire(name, self.holder, ttl_s=self.ttl_s)
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            if self._errors.get(name) != error:  # once per cause, not once per try
                _log.warning("%s: cannot take or renew its lease: %s", name, error)
            self._errors[name] = error
            return None
        if self._errors.pop(name, None) is not None:
            _log.warning("%s: reaches its lease again", name)
        self.last_seen[name] = lease
        if lease.held_by(self.holder.id):
            # the lease ends ttl after the database wrote it, which was after we asked
            self._valid_until[name] = asked + self.ttl_s
        return lease

    async def _work_while_held(self, name: str, stop: asyncio.Event, work: Work) -> None:
        _log.info("%s: lease taken by %s; working", name, self.holder.id)
        self._held[name] = True
        until = asyncio.Event()
        working = asyncio.ensure_future(work(until))
        beating = asyncio.ensure_future(self._beat(name, stop, until))
        try:
            await asyncio.wait([working, beating], return_when=asyncio.FIRST_COMPLETED)
            if not working.done() and not stop.is_set():
                # the lease is lost: whatever the loop has in hand must end soon, as another
                # process may take the lease as soon as it expires
                _, late = await asyncio.wait([working], timeout=self.ttl_s / 3)
                for task in late:
                    task.cancel()
                await asyncio.gather(working, return_exceptions=True)
            else:
                await working  # stopping: the owner's grace bounds it
        finally:
            until.set()
            for task in (working, beating):
                task.cancel()
            await asyncio.gather(working, beating, return_exceptions=True)
            self._held[name] = False
            await self._release(name)

    async def _beat(self, name: str, stop: asyncio.Event, until: asyncio.Event) -> None:
        """Renew the lease every ``ttl_s / 3``; set ``until`` on a stop or once it is lost."""
        wait_s = self.ttl_s / 3
        while True:
            remaining = self._valid_until[name] - time.monotonic()
            if await _wait(stop, max(min(wait_s, remaining), 0.0)):
                break
            remaining = self._valid_until[name] - time.monotonic()
            if remaining <= 0:
                _log.warning("%s: could not renew its lease in time; standing by", name)
                break
            try:
                lease = await asyncio.wait_for(self._take(name), remaining)
            except TimeoutError:
                continue
            if lease is None:  # unreachable: try again soon, while the lease lasts
                wait_s = self.ttl_s / 10
                continue
            if not lease.held_by(self.holder.id):
                _log.warning("%s: its lease was taken by %s; standing by", name, lease.holder)
                break
            wait_s = self.ttl_s / 3
        until.set()

    async def _release(self, name: str) -> None:
        """Give the lease back at once (best effort: unreleased, it expires on its own)."""
        try:
            async with asyncio.timeout(self.ttl_s):
                async with self.store.transaction() as tx:
                    await tx.leases.release(name, self.holder.id)
        except Exception as exc:
            _log.warning("%s: could not release its lease (it expires): %s", name, exc)


async def _wait(stop: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``stop`` is set or ``timeout_s`` passed; whether it is set."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout_s)
    return stop.is_set()
