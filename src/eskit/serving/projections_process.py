"""A process that runs projections, sagas and reactors, the command queue's workers, and
the relay and consumers when a bus is configured (``eskit worker``)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from eskit.observability.collector import collector_for
from eskit.observability.tracing import configure_tracing
from eskit.projections import ProjectionRunner
from eskit.serving.gc_policy import freeze_startup_objects
from eskit.serving.messaging import messaging_tasks
from eskit.serving.processes import QueueTasks
from eskit.serving.service import ConfiguredProjections, service_name
from eskit.settings import EskitSettings
from eskit.store import open_store

__all__ = ["run_projections"]


async def run_projections(
    settings: EskitSettings, *, on_ready: Callable[[list[str]], None] | None = None
) -> None:
    """Run the projections the settings name until SIGINT or SIGTERM: those of
    ``settings.projections`` if set, else those of ``settings.service``.

    ``on_ready`` gets the projections' names once they run. On a signal they finish the
    batch in hand and the store closes. Raises ConfigurationError, before opening the
    store, if neither names any.
    """
    configured = ConfiguredProjections(settings)
    configure_tracing(service_name(settings))
    async with open_store(settings.database_url, migrate=None, **settings.store_options()) as store:
        parts = configured.parts(store)
        running = [*parts.projections, *parts.processes]
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        messaging = messaging_tasks(
            store, settings, parts.consumers, bus_required=parts.bus_required
        )
        queue_tasks = (
            QueueTasks(parts.queue, settings)
            if parts.queue is not None and settings.queue_workers
            else None
        )
        async with ProjectionRunner(
            store,
            running,
            lease_ttl_s=settings.lease_ttl_s,
            lease_retry_s=settings.lease_retry_s,
        ) as runner:
            collector = collector_for(store, settings, runner.status, database=True)
            collector.start()
            if messaging is not None:
                await messaging.start()
            if queue_tasks is not None:
                queue_tasks.hear(parts.processes)
                queue_tasks.start()
            freeze_startup_objects()
            if on_ready is not None:
                on_ready([p.name for p in running])
            try:
                await stop.wait()
            finally:
                await collector.stop()
                if queue_tasks is not None:
                    await queue_tasks.stop()
                if messaging is not None:
                    await messaging.stop()
