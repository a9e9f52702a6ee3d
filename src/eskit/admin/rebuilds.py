"""Rebuilds started from the console: run in the background, their progress kept for the
pages to show."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Literal

from eskit.projections.projection import Projection
from eskit.projections.rebuild import RebuildResult, rebuild, require_rebuildable
from eskit.store import EventStoreBackend

__all__ = ["RebuildJob", "Rebuilds"]

_log = logging.getLogger("eskit.admin")


@dataclass
class RebuildJob:
    """One rebuild: events handled of the total, and how it ended."""

    name: str
    state: Literal["running", "done", "failed"] = "running"
    done: int = 0
    total: int = 0
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    result: RebuildResult | None = None
    error: str | None = None

    @property
    def percent(self) -> int:
        """How far it got, 0 to 100."""
        if self.state == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def progress(self, done: int, total: int) -> None:
        """Called by the rebuild after each batch."""
        self.done, self.total = done, total
        self.seconds = time.monotonic() - self.started


class Rebuilds:
    """The console's rebuilds, one at a time per projection, as ``eskit projections
    rebuild`` runs them (shadow tables swapped in when caught up)."""

    def __init__(self, store: EventStoreBackend, *, batch_size: int = 2000) -> None:
        self.store = store
        self.batch_size = batch_size
        self.jobs: dict[str, RebuildJob] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, projection: Projection) -> RebuildJob:
        """Start rebuilding ``projection``; the job already running if there is one.

        Raises ConfigurationError for what may not be rebuilt (a saga, a reactor).
        """
        require_rebuildable(projection)
        running = self.jobs.get(projection.name)
        if running is not None and running.state == "running":
            return running
        job = self.jobs[projection.name] = RebuildJob(projection.name)
        task = asyncio.get_running_loop().create_task(
            self._run(projection, job), name=f"eskit-admin-rebuild-{projection.name}"
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    async def _run(self, projection: Projection, job: RebuildJob) -> None:
        _log.info("rebuilding %s (started from the admin console)", projection.name)
        try:
            job.result = await rebuild(
                self.store, projection, batch_size=self.batch_size, progress=job.progress
            )
        except asyncio.CancelledError:
            job.state, job.error = "failed", "stopped with the server"
            raise
        except Exception as exc:
            _log.exception("the rebuild of %s failed", projection.name)
            job.state, job.error = "failed", f"{type(exc).__name__}: {exc}"
            return
        finally:
            job.seconds = time.monotonic() - job.started
        job.state = "done"
        job.done = job.total = max(job.total, job.result.events)
        _log.info("rebuilt %s: %s events", projection.name, job.result.events)

    async def stop(self) -> None:
        """Cancel the rebuilds still running (the next rebuild starts its shadow afresh)."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
