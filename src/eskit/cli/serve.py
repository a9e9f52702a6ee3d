"""``eskit serve`` (HTTP, gRPC and projections in one process) and ``eskit worker``."""

from __future__ import annotations

import asyncio
import logging
import re
import signal
from collections.abc import Coroutine
from typing import Annotated, Any

import typer

from eskit.cli.common import DatabaseUrl, console, settings_for
from eskit.errors import EskitError
from eskit.projections import ProjectionRunner
from eskit.serving import ServiceRuntime, load_service, serve
from eskit.settings import EskitSettings
from eskit.store import open_store

__all__ = ["serve_command", "worker_command"]

ServiceOption = Annotated[
    str | None,
    typer.Option("--service", envvar="ESKIT_SERVICE", help="module:attribute of the service."),
]


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
    migrate: Annotated[
        bool, typer.Option(help="Apply the schema first (PostgreSQL; SQLite always does).")
    ] = False,
) -> None:
    """Serve the service's HTTP and gRPC APIs and run its projections until SIGTERM."""
    overrides = {
        "service": service,
        "host": host,
        "port": port,
        "grpc_port": grpc_port,
        "run_projections": projections,
    }
    settings = settings_for(database_url).model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    _configure_logging(settings)

    def ready(runtime: ServiceRuntime) -> None:
        grpc = f", gRPC on {settings.host}:{runtime.grpc_port}" if runtime.grpc_port else ""
        console.print(
            f"serving {runtime.service.name} on http://{settings.host}:{settings.port}"
            f" (docs at /docs){grpc}; store {redacted(settings.database_url)}",
            highlight=False,
        )

    try:
        run_fast(
            serve(load_service(settings.service), settings, on_ready=ready, migrate=migrate or None)
        )
    except EskitError as exc:
        console.print(f"[red]error[/red] ({exc.code}): {exc}")
        raise typer.Exit(1) from exc
    console.print("stopped")


def worker_command(database_url: DatabaseUrl = None, service: ServiceOption = None) -> None:
    """Run the service's projections in this process until SIGTERM (finishing the batch)."""
    settings = settings_for(database_url)
    if service:
        settings = settings.model_copy(update={"service": service})
    _configure_logging(settings)

    async def work() -> None:
        definition = load_service(settings.service)
        async with open_store(
            settings.database_url, migrate=None, **settings.store_options()
        ) as store:
            parts = definition.build(store, settings)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            async with ProjectionRunner(store, parts.projections):
                names = ", ".join(p.name for p in parts.projections)
                console.print(f"running {names}", highlight=False)
                await stop.wait()

    try:
        run_fast(work())
    except EskitError as exc:
        console.print(f"[red]error[/red] ({exc.code}): {exc}")
        raise typer.Exit(1) from exc
    console.print("stopped")


def run_fast(main: Coroutine[Any, Any, None]) -> None:
    """Run ``main`` on uvloop where it is installed (a server spends less CPU per request)."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency except on Windows
        asyncio.run(main)
    else:
        uvloop.run(main)


def redacted(url: str) -> str:
    """``url`` without its password, for printing."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def _configure_logging(settings: EskitSettings) -> None:
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
