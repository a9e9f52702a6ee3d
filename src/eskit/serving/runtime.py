"""One service process: the HTTP app, the gRPC server and the projections, over one store."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import TracebackType

import grpc.aio
from fastapi import FastAPI

from eskit.admin import Console, ConsoleSources, admin_app
from eskit.errors import ConfigurationError
from eskit.grpc import create_server
from eskit.http import create_app
from eskit.messaging.background import MessagingTasks
from eskit.observability.collector import MetricsCollector, collector_for
from eskit.projections import ProjectionRunner, ProjectionStatus
from eskit.projections.schema import ensure_tables
from eskit.serving.messaging import messaging_tasks
from eskit.serving.processes import QueueTasks
from eskit.serving.service import Service
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions

__all__ = ["ServiceRuntime"]

log = logging.getLogger(__name__)


class ServiceRuntime:
    """What one process of ``service`` runs, started and stopped as one.

    ``async with ServiceRuntime(service, store, settings) as runtime`` builds the service,
    starts its projections (unless ``settings.run_projections`` is false: then it only
    creates their missing read-model tables) and its gRPC server on ``grpc_address``
    (default ``host:grpc_port``; ``None`` or port 0 in the settings: no gRPC), and
    exposes the HTTP app as ``runtime.app`` for a server to run; its ``/health/ready`` lists
    the projections' states (:meth:`projection_status`).
    On exit the gRPC server drains for ``grace_s`` and the projections finish the batch in
    hand.
    """

    def __init__(
        self,
        service: Service,
        store: EventStoreBackend,
        settings: EskitSettings,
        *,
        grpc_address: str | None = "",
        grace_s: float = 10.0,
    ) -> None:
        self.service = service
        self.store = store
        self.settings = settings
        self.grace_s = grace_s
        if grpc_address == "":
            port = settings.grpc_port
            grpc_address = f"{settings.host}:{port}" if port else None
        self._grpc_address = grpc_address
        query_port = settings.grpc_query_port
        self._query_address = f"{settings.host}:{query_port}" if query_port else None
        parts = service.build(store, settings)
        self.parts = parts
        title = service.title or service.name
        admin = (
            admin_app(self._console_sources(), settings, title=title) if settings.admin else None
        )
        self.console: Console | None = admin.state.console if admin is not None else None
        self.app: FastAPI = create_app(
            store,
            parts.routers,
            settings=settings,
            title=title,
            version=service.version,
            projections=self.projection_status,
            admin=admin,
        )
        self.runner: ProjectionRunner | None = None
        self.messaging: MessagingTasks | None = None
        self._observer: ProjectionRunner | None = None
        self.queue_tasks: QueueTasks | None = None
        self.grpc_server: grpc.aio.Server | None = None
        self.grpc_port: int | None = None
        self.query_server: grpc.aio.Server | None = None
        self.query_port: int | None = None
        self.metrics: MetricsCollector | None = None
        """Refreshes the gauges ``/metrics`` serves (the database's only where the
        projections run)."""

    async def __aenter__(self) -> ServiceRuntime:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _start(self) -> None:
        # the gRPC port first: one that cannot be bound stops the start before any
        # projection runs; it serves only once the read models' tables are there
        self._bind_grpc()
        running = [*self.parts.projections, *self.parts.processes]
        if self.settings.run_projections and running:
            self.runner = ProjectionRunner(
                self.store,
                running,
                lease_ttl_s=self.settings.lease_ttl_s,
                lease_retry_s=self.settings.lease_retry_s,
            )
            await self.runner.start()
        if self.settings.run_projections:
            # the relay, consumers and queue workers run where the projections do: beside
            # them, or in the worker process when the server leaves the projections to one
            self.messaging = messaging_tasks(
                self.store,
                self.settings,
                self.parts.consumers,
                bus_required=self.parts.bus_required,
            )
            if self.messaging is not None:
                await self.messaging.start()
            if self.parts.queue is not None and self.settings.queue_workers:
                self.queue_tasks = QueueTasks(self.parts.queue, self.settings)
                self.queue_tasks.hear(self.parts.processes)
                self.queue_tasks.start()
        if not self.settings.run_projections and running:
            # the worker may not have started yet: with the read models' tables there,
            # queries answer (from the events, or not_caught_up) instead of failing
            store = require_transactions(self.store, "read models")
            for projection in self.parts.projections:
                await ensure_tables(store, projection.read_models)
            # never started: it reads the states the worker process stores, for readiness
            self._observer = ProjectionRunner(store, running, listen=False)
        self.metrics = collector_for(self.store, self.settings, self.projection_status)
        self.metrics.start()
        for server, port in (
            (self.grpc_server, self.grpc_port),
            (self.query_server, self.query_port),
        ):
            if server is not None:
                await server.start()
                log.info("gRPC listening on port %s", port)

    def _bind_grpc(self) -> None:
        """Make the gRPC servers and bind their ports (ConfigurationError if one cannot)."""
        if self._grpc_address and self.parts.grpc_handlers:
            self.grpc_server, self.grpc_port = self._grpc_server(
                self.parts.grpc_handlers, self._grpc_address
            )
        if self._grpc_address and self._query_address and self.parts.query_grpc_handlers:
            self.query_server, self.query_port = self._grpc_server(
                self.parts.query_grpc_handlers, self._query_address
            )

    def _grpc_server(
        self, handlers: Sequence[grpc.GenericRpcHandler], address: str
    ) -> tuple[grpc.aio.Server, int]:
        server = create_server(
            handlers,
            api_keys=[key.get_secret_value() for key in self.settings.api_keys],
            max_message_bytes=self.settings.max_body_bytes,
            share_port=self.settings.workers > 1,  # server processes share it on purpose
        )
        try:
            return server, server.add_insecure_port(address)
        except RuntimeError as exc:  # grpc's only word for a port it could not bind
            raise ConfigurationError(f"cannot listen on {address} (gRPC): {exc}") from exc

    def _console_sources(self) -> ConsoleSources:
        parts = self.parts
        return ConsoleSources(
            store=self.store,
            projections=parts.projections,
            processes=parts.processes,
            consumers=parts.consumers,
            aggregates=parts.aggregates,
            statuses=self.projection_status,
            messaging=lambda: self.messaging,
        )

    def begin_stopping(self) -> None:
        """Tell long-lived answers (the console's live pages) to end: the server is stopping."""
        if self.console is not None:
            self.console.closing.set()

    async def projection_status(self) -> list[ProjectionStatus]:
        """Every projection's state: of those running here, or as the process running them
        stored it (``run_projections`` off)."""
        runner = self.runner or self._observer
        return await runner.status() if runner is not None else []

    async def stop(self) -> None:
        """Drain the gRPC server, then stop the relay, the consumers and the projections
        (each finishing the batch in hand)."""
        if self.console is not None:
            await self.console.stop()
        for server in (self.grpc_server, self.query_server):
            if server is not None:
                await server.stop(self.grace_s)
        self.grpc_server = self.query_server = None
        collector, self.metrics = self.metrics, None
        if collector is not None:
            await collector.stop()
        queue_tasks, self.queue_tasks = self.queue_tasks, None
        if queue_tasks is not None:
            await queue_tasks.stop(self.grace_s)
        messaging, self.messaging = self.messaging, None
        if messaging is not None:
            await messaging.stop(self.grace_s)
        runner, self.runner = self.runner, None
        if runner is not None:
            await runner.stop(grace_s=self.grace_s)
