"""What every ``eskit`` command shares: settings, the console, running work on a store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from eskit.errors import EskitError
from eskit.observability.metrics import start_metrics_server
from eskit.serving.event_loop import run_on_uvloop
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, open_store

__all__ = [
    "DatabaseUrl",
    "ServiceOption",
    "console",
    "error_console",
    "fail",
    "print_error",
    "run_with_store",
    "serve_metrics",
    "settings_for",
]

T = TypeVar("T")
console = Console()
error_console = Console(stderr=True)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="ESKIT_DATABASE_URL", help="Overrides the settings."),
]
ServiceOption = Annotated[
    str | None,
    typer.Option("--service", envvar="ESKIT_SERVICE", help="module:attribute of the service."),
]


def settings_for(database_url: str | None, **options: object) -> EskitSettings:
    """The settings, with ``--database-url`` and the command's other ``options`` (those not
    None) taking precedence."""
    given = {"database_url": database_url or None, **options}
    return EskitSettings().model_copy(update={k: v for k, v in given.items() if v is not None})


def run_with_store(
    database_url: str | None,
    work: Callable[[EventStoreBackend, EskitSettings], Awaitable[T]],
    *,
    migrate: bool | None = None,
    **options: object,
) -> T:
    """Open the configured store, run ``work`` on it, and turn eskit errors into exit code 1.

    ``options`` are settings the command was given (see :func:`settings_for`).
    """
    settings = settings_for(database_url, **options)

    async def go() -> T:
        async with open_store(
            settings.database_url, migrate=migrate, **settings.store_options()
        ) as store:
            return await work(store, settings)

    try:
        return run_on_uvloop(go())
    except EskitError as exc:
        fail(exc)


def print_error(code: str, message: str) -> None:
    """Print ``error (code): message`` on stderr as one line, however wide the terminal."""
    # Text: a message quoting the user's input is never read as markup
    error_console.print(Text.assemble(("error", "red"), f" ({code}): {message}"), soft_wrap=True)


def fail(error: EskitError) -> NoReturn:
    """Print ``error`` with its code on stderr and end the command with exit code 1."""
    print_error(error.code, str(error))
    raise typer.Exit(1) from error


def serve_metrics(settings: EskitSettings) -> None:
    """Serve this process's metrics on ``ESKIT_METRICS_PORT`` (unless it is 0), saying where."""
    if not settings.metrics_port:
        return
    port = start_metrics_server(settings.host, settings.metrics_port)
    if port is not None:
        console.print(f"metrics on http://{settings.host}:{port}/metrics", highlight=False)
