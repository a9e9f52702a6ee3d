"""``eskit serve`` (HTTP, gRPC and projections in one process) and ``eskit worker``."""

from __future__ import annotations

import re
from typing import Annotated

import typer

from eskit.cli.context import (
    DatabaseUrl,
    ServiceOption,
    console,
    fail,
    serve_metrics,
    settings_for,
)
from eskit.cli.projections import ProjectionsOption
from eskit.errors import EskitError
from eskit.observability.logs import configure_logging
from eskit.serving import ServiceRuntime, load_service, serve
from eskit.serving.event_loop import run_on_uvloop
from eskit.serving.projections_process import run_projections
from eskit.serving.workers import ServerProcesses, serve_workers
from eskit.settings import EskitSettings
from eskit.store.urls import default_read_model_url

__all__ = ["redacted", "serve_command", "worker_command"]


def serve_command(
    database_url: DatabaseUrl = None,
    service: ServiceOption = None,
    host: Annotated[str | None, typer.Option(envvar="ESKIT_HOST")] = None,
    port: Annotated[int | None, typer.Option(envvar="ESKIT_PORT", min=0, max=65535)] = None,
    grpc_port: Annotated[
        int | None,
        typer.Option(envvar="ESKIT_GRPC_PORT", min=0, max=65535, help="0 turns gRPC off."),
    ] = None,
    projections: Annotated[
        bool | None,
        typer.Option(
            "--projections/--no-projections",
            envvar="ESKIT_RUN_PROJECTIONS",
            help="Run the projections here (default) or leave them to `eskit worker`.",
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option(
            envvar="ESKIT_WORKERS",
            min=1,
            max=64,
            help="Server processes sharing the ports (projections then get one of their own).",
        ),
    ] = None,
    migrate: Annotated[
        bool, typer.Option(help="Apply the schema first (PostgreSQL; SQLite always does).")
    ] = False,
) -> None:
    """Serve the service's HTTP and gRPC APIs and run its projections until SIGTERM."""
    settings = settings_for(
        database_url,
        service=service,
        host=host,
        port=port,
        grpc_port=grpc_port,
        run_projections=projections,
        workers=workers,
    )
    configure_logging(settings)
    if settings.workers > 1:
        _serve_in_processes(settings, migrate)
        return

    def ready(runtime: ServiceRuntime) -> None:
        _print_serving(runtime.service.name, settings, settings.port, runtime.grpc_port)

    try:
        run_on_uvloop(
            serve(load_service(settings.service), settings, on_ready=ready, migrate=migrate or None)
        )
    except EskitError as exc:
        fail(exc)
    console.print("stopped")


def _serve_in_processes(settings: EskitSettings, migrate: bool) -> None:
    def ready(started: ServerProcesses) -> None:
        grpc = settings.grpc_port or None
        _print_serving(load_service(settings.service).name, settings, started.port, grpc)
        console.print(f"{settings.workers} server processes; pids {started.pids}", highlight=False)

    try:
        status = serve_workers(settings, migrate=migrate, on_ready=ready)
    except EskitError as exc:
        fail(exc)
    if status:
        console.print("[red]error[/red]: a server process failed; see the log above")
        raise typer.Exit(status)
    console.print("stopped")


def _print_serving(name: str, settings: EskitSettings, port: int, grpc_port: int | None) -> None:
    grpc = f", gRPC on {settings.host}:{grpc_port}" if grpc_port else ""
    console.print(
        f"serving {name} on http://{settings.host}:{port}"
        f" (docs at /docs){grpc}; store {redacted(settings.database_url)}{_read_models(settings)}",
        highlight=False,
    )


def _read_models(settings: EskitSettings) -> str:
    """``; read models <url>`` for a store that keeps them apart, else nothing."""
    if not settings.database_url.lower().startswith(("nats://", "tls://")):
        return ""
    url = settings.read_model_url or default_read_model_url(settings.database_url)
    return f"; read models {redacted(url)}"


def worker_command(
    database_url: DatabaseUrl = None,
    service: ServiceOption = None,
    projections: ProjectionsOption = None,
) -> None:
    """Run the service's projections in this process until SIGTERM (finishing the batch).

    ``--projections`` (``ESKIT_PROJECTIONS``) runs those instead. Metrics are served on
    ``ESKIT_METRICS_PORT``.
    """
    settings = settings_for(database_url, service=service, projections=projections)
    configure_logging(settings)
    serve_metrics(settings)

    def ready(names: list[str]) -> None:
        console.print(f"running {', '.join(names)}", highlight=False)

    try:
        run_on_uvloop(run_projections(settings, on_ready=ready))
    except EskitError as exc:
        fail(exc)
    console.print("stopped")


def redacted(url: str) -> str:
    """``url`` without its password, for printing."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)
