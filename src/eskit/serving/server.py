"""``eskit serve``: HTTP (uvicorn), gRPC and projections in one process until SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn

from eskit.errors import ConfigurationError
from eskit.observability.tracing import configure_tracing
from eskit.serving.gc_policy import freeze_startup_objects
from eskit.serving.ports import check_ports
from eskit.serving.runtime import ServiceRuntime
from eskit.serving.service import Service
from eskit.settings import EskitSettings
from eskit.store import open_store

__all__ = ["serve"]

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn, leaving signals to :func:`serve`, which stops every part in order."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = asyncio.Event()  # set once the socket listens

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().startup(sockets)
        except SystemExit as exc:  # uvicorn's way to say it could not bind (logged above)
            config = self.config
            raise ConfigurationError(
                f"cannot listen on {config.host}:{config.port} (HTTP); see the log above"
            ) from exc
        self.ready.set()


async def serve(
    service: Service,
    settings: EskitSettings,
    *,
    on_ready: Callable[[ServiceRuntime], None] | None = None,
    migrate: bool | None = None,
    sockets: list[socket.socket] | None = None,
) -> None:
    """Run ``service`` until SIGINT or SIGTERM, then stop cleanly.

    HTTP listens on ``settings.host`` and ``settings.port``, or on ``sockets`` already
    bound (a socket shared by several server processes). On a signal: the HTTP server
    stops accepting and finishes the requests in flight, the gRPC server drains, the
    projections finish the batch in hand, the store closes.

    Without ``sockets``, raises PortInUseError before it opens the store if the HTTP or
    the gRPC port is held by another socket (the supervisor of several server processes
    checks for them).
    """
    if sockets is None:
        check_ports(settings)
    configure_tracing(service.name)  # before the app is made: FastAPI looks once
    async with (
        open_store(settings.database_url, migrate=migrate, **settings.store_options()) as store,
        ServiceRuntime(service, store, settings) as runtime,
    ):
        config = uvicorn.Config(
            runtime.app,
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's loggers go to the handler eskit configured
            lifespan="off",
            timeout_graceful_shutdown=10,
        )
        server = _Server(config)

        def stop() -> None:
            log.info("stopping")
            runtime.begin_stopping()
            server.should_exit = True

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        task = asyncio.create_task(server.serve(sockets))
        ready = asyncio.create_task(server.ready.wait())
        await asyncio.wait([task, ready], return_when=asyncio.FIRST_COMPLETED)
        ready.cancel()
        if server.started:
            freeze_startup_objects()
            if on_ready is not None:
                on_ready(runtime)
        await task
