"""The command queue's workers as a process runs them: started, restarted, stopped."""

from __future__ import annotations

from collections.abc import Sequence

from eskit.messaging.background import BackgroundTasks
from eskit.process.queue import CommandQueue
from eskit.process.queue_worker import QueueWorker
from eskit.process.sagas import Saga
from eskit.settings import EskitSettings

__all__ = ["QueueTasks"]


class QueueTasks:
    """``settings.queue_workers`` workers of ``queue``, each in a task; one that fails is
    logged and started again."""

    def __init__(self, queue: CommandQueue, settings: EskitSettings) -> None:
        self.queue = queue
        self.workers = [
            QueueWorker(
                queue.store,
                queue.dispatcher,
                clock=queue.clock,
                max_attempts=settings.queue_max_attempts,
                lease_s=settings.queue_lease_s,
                # a command queued by a server process is heard of by polling: keep it short
                poll_interval_s=0.05,
                wake=queue.wake,
            )
            for _ in range(settings.queue_workers)
        ]
        self._tasks = BackgroundTasks()

    def hear(self, processes: Sequence[object]) -> None:
        """Wake the workers when one of ``processes`` (a saga) queued commands."""
        for process in processes:
            if isinstance(process, Saga):
                process.on_commands(self.queue.wake.set)

    def start(self) -> None:
        """Start every worker."""
        self._tasks.start([(f"queue-worker-{i}", w.run) for i, w in enumerate(self.workers)])

    async def stop(self, grace_s: float = 10.0) -> None:
        """Stop the workers; each finishes the batch in hand (for up to ``grace_s``)."""
        await self._tasks.stop(grace_s)
