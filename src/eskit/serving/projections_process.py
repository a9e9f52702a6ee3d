"""A process that runs a service's projections and nothing else (``eskit worker``)."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from eskit.projections import ProjectionRunner
from eskit.serving.gc_policy import freeze_startup_objects
from eskit.serving.service import load_service
from eskit.settings import EskitSettings
from eskit.store import open_store

__all__ = ["run_projections"]


async def run_projections(
    settings: EskitSettings, *, on_ready: Callable[[list[str]], None] | None = None
) -> None:
    """Run the projections of ``settings.service`` until SIGINT or SIGTERM.

    ``on_ready`` gets the projections' names once they run. On a signal they finish the
    batch in hand and the store closes.
    """
    definition = load_service(settings.service)
    async with open_store(settings.database_url, migrate=None, **settings.store_options()) as store:
        parts = definition.build(store, settings)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with ProjectionRunner(store, parts.projections):
            freeze_startup_objects()
            if on_ready is not None:
                on_ready([p.name for p in parts.projections])
            await stop.wait()
