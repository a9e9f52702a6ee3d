"""Running projections in the background and answering "has it caught up yet?".

A :class:`ProjectionRunner` keeps a task per projection. Each task handles batches while
there are any, then sleeps until the store signals a commit: an append through the same
store object, or a commit of another process heard by the store's commit listener
(PostgreSQL ``NOTIFY``, a change of the SQLite file's ``data_version``). Polling every
``poll_interval_s`` is only the fallback for notices that cannot arrive (a lost listener
connection).

A handler that fails is retried with backoff, as its projection's failure policy says
(:mod:`eskit.projections.failure`): until it succeeds or the event is parked, by the policy
after its number of attempts or by an operator. While it waits to retry, the runner looks at
the parked events every ``PARK_CHECK_S``, so an event parked from another process (``eskit
projections park``) lets the projection go on within that time, whatever the backoff.

Stop, start and restart in any order: stopping cancels between batches or rolls the
current one back, and starting again resumes at the committed checkpoint.

Started, a runner works on a projection only while it holds the projection's lease
(``projection:<name>``, see :mod:`eskit.store.leasing`): a second process running the same
projection stands by and takes over when the first stops or dies. The one-shot paths
(:meth:`ProjectionRunner.catch_up`, rebuilds, a worker driven step by step) take no lease:
they are run by hand, and their batches commit by compare-and-set on the checkpoint as a
running worker's do, so running beside a worker wastes work at worst, never applies an
event twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from eskit.errors import (
    CheckpointMovedError,
    NotCaughtUpError,
    NotFoundError,
    ProjectionNotFoundError,
    SagaConflictError,
)
from eskit.logcontext import log_context
from eskit.projections.lag import measure_lag
from eskit.projections.projection import Projection
from eskit.projections.schema import ensure_tables
from eskit.projections.status import ProjectionStatus
from eskit.projections.subscription import Subscription
from eskit.projections.worker import HandlerFailedError, ProjectionWorker
from eskit.store.bookkeeping import CheckpointRow
from eskit.store.commits import CommitListener
from eskit.store.leases import Lease, lease_info
from eskit.store.leasing import DEFAULT_LEASE_RETRY_S, DEFAULT_LEASE_TTL_S, LeaseKeeper
from eskit.store.port import EventStoreBackend
from eskit.store.unit_of_work import require_transactions

__all__ = ["LEASE_PREFIX", "PARK_CHECK_S", "ProjectionRunner"]

_log = logging.getLogger("eskit.projections")

PARK_CHECK_S = 0.25
"""How often a projection waiting to retry a failing event looks whether it was parked."""

LEASE_PREFIX = "projection:"
"""The projection ``orders`` is run under the lease ``projection:orders``."""


class ProjectionRunner:
    """Runs projections (and subscriptions) against a store until stopped.

    ``batch_size`` events per transaction; ``poll_interval_s`` (default 1 s) bounds how long
    a caught-up projection sleeps without a notice. With ``listen``, commits of other
    processes are heard through the store's commit listener. A failing handler is retried after
    ``retry_backoff_s``, doubling up to ``max_backoff_s`` (unless the projection's failure
    policy sets its own), and parked if the policy says so; a projection with events waiting
    and no progress for ``stall_after_s`` reports itself stalled.

    With ``leases`` (the default), each projection runs only while this runner holds its
    lease, which lasts ``lease_ttl_s`` unless renewed; a runner that does not hold it tries
    again every ``lease_retry_s`` (see :mod:`eskit.store.leasing`).
    """

    def __init__(
        self,
        store: EventStoreBackend,
        projections: Sequence[Projection | Subscription],
        *,
        batch_size: int = 1000,
        poll_interval_s: float | None = None,
        retry_backoff_s: float = 0.1,
        max_backoff_s: float = 30.0,
        stall_after_s: float = 10.0,
        listen: bool = True,
        leases: bool = True,
        lease_ttl_s: float = DEFAULT_LEASE_TTL_S,
        lease_retry_s: float = DEFAULT_LEASE_RETRY_S,
    ) -> None:
        self.store = require_transactions(store, "projections")
        self.projections = {p.name: p for p in projections}
        if len(self.projections) != len(projections):
            raise ValueError("two projections share a name")
        self.workers = {
            p.name: ProjectionWorker(p, self.store, batch_size=batch_size) for p in projections
        }
        self.poll_interval_s = poll_interval_s or 1.0
        self.retry_backoff_s = retry_backoff_s
        self.max_backoff_s = max_backoff_s
        self.stall_after_s = stall_after_s
        self.listen = listen
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._listener: CommitListener | None = None
        self._stopping = asyncio.Event()
        self.leases = (
            LeaseKeeper(self.store, ttl_s=lease_ttl_s, retry_s=lease_retry_s) if leases else None
        )
        """Holds the projections' leases while started (None: run without leases)."""

    async def __aenter__(self) -> ProjectionRunner:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def worker(self, name: str) -> ProjectionWorker:
        """The worker of projection ``name``."""
        worker = self.workers.get(name)
        if worker is None:
            raise ProjectionNotFoundError(name, sorted(self.workers))
        return worker

    # -- lifecycle ------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Create missing read-model tables and load every checkpoint (no tasks started)."""
        for worker in self.workers.values():
            await ensure_tables(self.store, worker.projection.read_models)
            await worker.load()

    async def start(self) -> None:
        """Prepare, start hearing other processes' commits, take the leases that are free,
        start one task per projection."""
        if self._tasks:
            return
        await self.prepare()
        if self.listen and self._listener is None:
            self._listener = self.store.commit_listener()
            if self._listener is not None:
                await self._listener.start()
        if self.leases is not None:
            # the leases free now are held when start returns: work begins at once
            await self.leases.try_first([LEASE_PREFIX + name for name in self.workers])
        loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        for name, worker in self.workers.items():
            self._tasks[name] = loop.create_task(self._run(worker), name=f"eskit-projection-{name}")

    async def stop(self, *, grace_s: float = 10.0) -> None:
        """Stop every task and the listener.

        A batch in hand is finished and committed first (for up to ``grace_s``; past that
        it is cancelled and rolls back, which loses nothing: it is handled again later).
        """
        tasks, self._tasks = list(self._tasks.values()), {}
        self._stopping.set()
        if tasks:
            _, late = await asyncio.wait(tasks, timeout=grace_s)
            for task in late:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        listener, self._listener = self._listener, None
        if listener is not None:
            await listener.stop()

    @property
    def running(self) -> bool:
        """Whether the runner's tasks are running."""
        return bool(self._tasks)

    async def catch_up(self, name: str | None = None) -> None:
        """Handle every waiting event now, in this task (raises what a handler raises)."""
        for worker in [self.worker(name)] if name else self.workers.values():
            await worker.catch_up()

    # -- the loop -------------------------------------------------------------------------

    async def _run(self, worker: ProjectionWorker) -> None:
        if self.leases is None:
            await self._work(worker, self._stopping, reload=False)
            return

        async def work(until: asyncio.Event) -> None:
            # another process may have moved the checkpoint while this one stood by
            await self._work(worker, until, reload=True)

        await self.leases.hold(
            LEASE_PREFIX + worker.name, self._stopping, work, standing_by=worker.load
        )

    async def _work(self, worker: ProjectionWorker, until: asyncio.Event, *, reload: bool) -> None:
        try:
            with log_context(projection=worker.name):
                await self._steps(worker, until, reload=reload)
        finally:
            worker.drop_read_ahead()

    async def _steps(self, worker: ProjectionWorker, until: asyncio.Event, *, reload: bool) -> None:
        delay = self.retry_backoff_s
        while not until.is_set():
            try:
                if reload:
                    await worker.load()
                    reload = False
                if await worker.step() and worker.more:
                    delay = self.retry_backoff_s
                    continue
            except HandlerFailedError as failure:
                await worker.fail(failure)
                if not await self._park_by_policy(worker):
                    await self._retry_later(worker, until)
                continue
            except (CheckpointMovedError, SagaConflictError):
                # another runner of the same projection (or saga) got there first
                await self._reload(worker)
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store is unreachable: say so, back off, retry
                worker.infrastructure_error = f"{type(exc).__name__}: {exc}"
                _log.warning("%s cannot reach the store: %s", worker.name, exc)
                await self._idle(until, None, delay)
                delay = min(delay * 2, self.max_backoff_s)
                continue
            # caught up: sleep until a commit; the generation was taken before the last page
            # was read, so a commit made since (while the batch was handled) wakes it at once
            delay = self.retry_backoff_s
            worker.last_progress = time.monotonic()  # caught up counts as progress
            await self._idle(until, worker.page_generation, self.poll_interval_s)

    async def _idle(self, until: asyncio.Event, seen: int | None, timeout_s: float) -> None:
        """Wait ``timeout_s``, or less: until a commit (if ``seen`` is given) or ``until``."""
        waits: list[asyncio.Future[Any]] = [asyncio.ensure_future(until.wait())]
        if seen is not None:
            waits.append(asyncio.ensure_future(self.store.appended.wait(seen, timeout_s)))
        try:
            await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiting in waits:
                waiting.cancel()

    async def _park_by_policy(self, worker: ProjectionWorker) -> bool:
        """Park the failing event if the policy says so now; whether it was parked."""
        if not worker.policy.parks_after(worker.attempts):
            return False
        try:
            await worker.park_failing()
        except Exception as exc:  # the store may be down: retry, and park on a later failure
            _log.warning("%s: could not park the failing event: %s", worker.name, exc)
            return False
        return True

    async def _retry_later(self, worker: ProjectionWorker, until: asyncio.Event) -> None:
        """Wait the policy's backoff before retrying, less if the event gets parked meanwhile."""
        wait_s = worker.policy.retry_in(
            worker.attempts, backoff_s=self.retry_backoff_s, max_backoff_s=self.max_backoff_s
        )
        deadline = time.monotonic() + wait_s
        while not until.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            await self._idle(until, None, min(PARK_CHECK_S, remaining))
            if await worker.failing_event_parked():
                _log.info("%s: the failing event was parked; going on", worker.name)
                return

    async def _reload(self, worker: ProjectionWorker) -> None:
        with contextlib.suppress(Exception):
            await worker.moved()

    # -- waiting for a position (read-your-writes) ------------------------------------

    async def wait_for(
        self, position: int, *, names: Sequence[str] | None = None, timeout_s: float = 5.0
    ) -> None:
        """Return once every projection (or those ``names``) has handled up to ``position``.

        Wakes on each committed batch, never on a timer. Raises NotCaughtUpError naming the
        projection and how far it got once ``timeout_s`` has passed.
        """
        deadline = time.monotonic() + timeout_s
        for name in names or list(self.workers):
            worker = self.worker(name)
            while worker.position < position:
                seen = worker.progress.generation
                if worker.position >= position:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not await worker.progress.wait(seen, remaining):
                    if worker.position >= position:
                        break
                    raise NotCaughtUpError(name, position, worker.position, timeout_s)

    async def wait_for_stream(
        self,
        stream_id: str,
        version: int,
        *,
        names: Sequence[str] | None = None,
        timeout_s: float = 5.0,
    ) -> None:
        """Like :meth:`wait_for`, for "version ``version`` of ``stream_id``"."""
        position = await position_of(self.store, stream_id, version)
        await self.wait_for(position, names=names, timeout_s=timeout_s)

    # -- status -----------------------------------------------------------------------------

    async def status(self) -> list[ProjectionStatus]:
        """Every projection's position, lag, error, lease and, when stalled, why."""
        head = await self.store.last_position()
        names = [LEASE_PREFIX + name for name in self.workers]
        leases = {lease.name: lease for lease in await self.store.committed.leases.list(names)}
        return [
            await self._status(worker, head, leases.get(LEASE_PREFIX + worker.name))
            for worker in self.workers.values()
        ]

    def _working_here(self, worker: ProjectionWorker) -> bool | None:
        """None if this runner does not run ``worker``; else whether it works on it now
        (False: it stands by while another process holds the lease)."""
        if not self.running:
            return None
        if self.leases is None:
            return True
        return bool(self.leases.here(LEASE_PREFIX + worker.name))

    async def _status(
        self, worker: ProjectionWorker, head: int, lease: Lease | None
    ) -> ProjectionStatus:
        committed = self.store.committed
        stored = await committed.checkpoints.get(worker.name)
        here = self._working_here(worker)
        # not working here: another process may run it, and only what it stored tells
        position = worker.position if here else stored.position
        lag, age = await measure_lag(
            self.store,
            position,
            head,
            event_types=worker.event_types,
            stream_types=worker.stream_types,
        )
        reason = await self._stalled_reason(worker, lag, age, stored, bool(here))
        if worker.error if here else stored.error:
            state = "failing"
        elif reason:
            state = "stalled"
        else:
            state = "live" if lag == 0 else "catching_up"
        return ProjectionStatus(
            name=worker.name,
            state=state,
            position=position,
            head=head,
            lag_events=lag,
            lag_seconds=age,
            error=(worker.error if here else None) or stored.error,
            error_position=(worker.error_position if here else None) or stored.error_position,
            error_count=stored.error_count,
            stalled_reason=reason,
            updated_at=stored.updated_at,
            policy=str(worker.policy),
            parked=len(await committed.dead_letters.positions(worker.name)),
            lease=lease_info(lease, here=here),
        )

    async def _stalled_reason(
        self, worker: ProjectionWorker, lag: int, age_s: float, stored: CheckpointRow, here: bool
    ) -> str | None:
        if not here:  # another process may run it: judge by what is stored
            return await self._stored_stall(stored, lag, age_s)
        if worker.error:
            return f"a handler fails at position {worker.error_position}: {worker.error}"
        if worker.infrastructure_error:
            return f"cannot reach the store: {worker.infrastructure_error}"
        listener = self._listener
        if listener is not None and not listener.connected:
            return (
                f"cannot hear other processes' commits ({listener.last_error}); polling meanwhile"
            )
        held = await self._held_back()
        if held:
            return held
        idle = time.monotonic() - worker.last_progress
        if lag and idle >= self.stall_after_s:
            return f"{lag} events wait but nothing was handled for {idle:.0f} s"
        return None

    async def _stored_stall(self, stored: CheckpointRow, lag: int, age_s: float) -> str | None:
        """Why a projection run elsewhere does not move, judged by its stored checkpoint."""
        if stored.error:
            return f"a handler fails at position {stored.error_position}: {stored.error}"
        held = await self._held_back()
        if held:
            return held
        if lag and age_s >= self.stall_after_s:
            # the oldest waiting event is old *and* the checkpoint has not moved since (or
            # never did): not a long catch-up, but no process handling it
            moved = stored.updated_at
            idle = age_s if moved is None else (datetime.now(UTC) - moved).total_seconds()
            if idle >= self.stall_after_s:
                return (
                    f"{lag} events wait and the checkpoint has not moved for {idle:.0f} s "
                    "(is a worker running?)"
                )
        return None

    async def _held_back(self) -> str | None:
        """Why committed events are invisible to readers, once that lasted ``stall_after_s``."""
        horizon = await self.store.read_horizon()
        if not (horizon.pending_events and horizon.blockers):
            return None
        oldest = horizon.blockers[0]
        if (oldest.age_s or 0.0) < self.stall_after_s:
            return None
        return (
            f"{horizon.pending_events} committed events are held back by transaction "
            f"pid {oldest.pid} ({oldest.state}, {oldest.age_s or 0:.0f} s): {oldest.query}"
        )


async def position_of(store: EventStoreBackend, stream_id: str, version: int) -> int:
    """The global position of version ``version`` of ``stream_id`` (NotFoundError if absent)."""
    events = await store.read_stream(stream_id, from_version=version, to_version=version)
    if not events:
        raise NotFoundError("stream", stream_id, f"no version {version}")
    return events[0].position
