"""The gauges that are read, not counted: refreshed by a task every few seconds.

A scrape only reads values already set; it never queries the database (a burst of
scrapes costs the store nothing) and never waits for the event loop. What the database
knows (projections' lag and states, relays' positions, sagas by state, the command
queue's depth, the read horizon) is read by one process only, the one running the
projections (``database=True``); what a store object knows in memory (its pool and
writer queue) is read in every process, as each has its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import get_args

from eskit.messaging.relay import CHECKPOINT_PREFIX
from eskit.observability import metrics
from eskit.projections.lag import measure_lag
from eskit.projections.status import ProjectionStatus
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend
from eskit.store.sagas import SagaReader, SagaStatus
from eskit.store.unit_of_work import TransactionalStore, has_transactions

__all__ = ["MetricsCollector", "collector_for"]

_log = logging.getLogger(__name__)

StatusSource = Callable[[], Awaitable[Sequence[ProjectionStatus]]]
_LIVE: tuple[SagaStatus, ...] = ("running", "compensating")
_STORED: tuple[SagaStatus, ...] = get_args(SagaStatus)
_STUCK_SCAN_LIMIT = 10_000
"""At most this many stuck instances are counted per live status (the gauge then says
"at least")."""


class MetricsCollector:
    """Refreshes the gauges every ``interval_s`` seconds until stopped.

    ``projections`` gives the projections' states (a runner's ``status``); with
    ``database`` false only the store's in-memory saturation is read. A read that fails
    (the store is down) is logged and tried again at the next interval; the gauges keep
    their last values meanwhile.
    """

    def __init__(
        self,
        store: EventStoreBackend,
        *,
        projections: StatusSource | None = None,
        database: bool = True,
        interval_s: float = 5.0,
        saga_stuck_after_s: float = 300.0,
    ) -> None:
        self.store = store
        self.projections = projections
        self.database = database
        self.interval_s = interval_s
        self.saga_stuck_after_s = saga_stuck_after_s
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    def start(self) -> None:
        """Collect once now, then every ``interval_s``, in a task of its own."""
        if self._task is None:
            self._stop = asyncio.Event()
            self._task = asyncio.create_task(self._run(), name="eskit-metrics-collector")

    async def stop(self) -> None:
        """Stop collecting (a read in progress is cancelled)."""
        task, self._task = self._task, None
        if task is not None:
            self._stop.set()
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while not self._stop.is_set():
            await self.collect()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval_s)

    async def collect(self) -> None:
        """Refresh every gauge now (each source apart: one failing spares the others)."""
        self._saturation()
        if not self.database:
            return
        db = self.store if has_transactions(self.store) else None
        sources: list[tuple[str, Callable[[], Awaitable[None]]]] = [("horizon", self._horizon)]
        if self.projections is not None:
            sources.append(("projections", self._projections))
        if db is not None:
            sources += [
                ("relays", lambda: self._relays(db)),
                ("sagas", lambda: self._sagas(db)),
                ("queue", lambda: self._queue(db)),
            ]
        for name, source in sources:
            try:
                await source()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the store may be down: keep the last values
                _log.warning("metrics: could not read the %s: %s", name, exc)

    def _saturation(self) -> None:
        seen = self.store.saturation()
        metrics.POOL_CONNECTIONS.labels("open").set(seen.pool_open)
        metrics.POOL_CONNECTIONS.labels("in_use").set(seen.pool_in_use)
        metrics.POOL_CONNECTIONS.labels("max").set(seen.pool_max)
        metrics.POOL_WAITING.set(seen.pool_waiting)
        metrics.WRITE_QUEUE.set(seen.write_queue)

    async def _horizon(self) -> None:
        horizon = await self.store.read_horizon()
        oldest = horizon.blockers[0].age_s if horizon.blockers else None
        metrics.HORIZON_AGE.set(oldest or 0.0)
        metrics.HORIZON_PENDING.set(horizon.pending_events)

    async def _projections(self) -> None:
        assert self.projections is not None
        for status in await self.projections():
            name = status.name
            metrics.PROJECTION_POSITION.labels(name).set(status.position)
            metrics.PROJECTION_LAG_EVENTS.labels(name).set(status.lag_events)
            metrics.PROJECTION_LAG_SECONDS.labels(name).set(status.lag_seconds)
            for state in metrics.PROJECTION_STATES:
                metrics.PROJECTION_STATE.labels(name, state).set(status.state == state)

    async def _relays(self, db: TransactionalStore) -> None:
        rows = await db.committed.checkpoints.all()
        relays = {n: r for n, r in rows.items() if n.startswith(CHECKPOINT_PREFIX)}
        if not relays:
            return
        head = await db.last_position()
        for checkpoint, row in relays.items():
            name = checkpoint.removeprefix(CHECKPOINT_PREFIX)
            lag, _ = await measure_lag(db, row.position, head)
            metrics.RELAY_POSITION.labels(name).set(row.position)
            metrics.RELAY_LAG_EVENTS.labels(name).set(lag)
            metrics.RELAY_STALLED.labels(name).set(1 if row.error else 0)

    async def _sagas(self, db: TransactionalStore) -> None:
        reader = db.committed.sagas
        counts = await reader.counts()
        stuck = await self._stuck(reader)
        for saga in {name for name, _ in counts} | {name for name, _ in stuck}:
            shown: dict[str, int] = {
                s: counts.get((saga, s), 0) - stuck[(saga, s)] for s in _STORED
            }
            shown["stuck"] = sum(stuck[(saga, s)] for s in _LIVE)
            for state in metrics.SAGA_STATES:
                metrics.SAGAS.labels(saga, state).set(shown.get(state, 0))

    async def _stuck(self, reader: SagaReader) -> Counter[tuple[str, SagaStatus]]:
        """Live instances no event moved for ``saga_stuck_after_s``, by saga and status."""
        cutoff = datetime.now(UTC) - timedelta(seconds=self.saga_stuck_after_s)
        found: Counter[tuple[str, SagaStatus]] = Counter()
        for status in _LIVE:
            rows = await reader.list(status=status, updated_before=cutoff, limit=_STUCK_SCAN_LIMIT)
            found.update((r.saga, r.status) for r in rows)
        return found

    async def _queue(self, db: TransactionalStore) -> None:
        now = datetime.now(UTC)
        depth = await db.committed.queue.depth(now)
        metrics.QUEUE_DEPTH.labels("ready").set(depth.ready)
        metrics.QUEUE_DEPTH.labels("running").set(depth.running)
        metrics.QUEUE_DEPTH.labels("scheduled").set(depth.scheduled)
        oldest = depth.oldest_ready_at
        metrics.QUEUE_OLDEST_READY_AGE.set(
            0.0 if oldest is None else max(0.0, (now - oldest).total_seconds())
        )


def collector_for(
    store: EventStoreBackend,
    settings: EskitSettings,
    projections: StatusSource | None = None,
    *,
    database: bool | None = None,
) -> MetricsCollector:
    """A collector with the settings' interval and stuck threshold; it reads the database
    where the projections run (``settings.run_projections``) unless ``database`` says."""
    return MetricsCollector(
        store,
        projections=projections,
        database=settings.run_projections if database is None else database,
        interval_s=settings.metrics_interval_s,
        saga_stuck_after_s=settings.metrics_saga_stuck_after_s,
    )
