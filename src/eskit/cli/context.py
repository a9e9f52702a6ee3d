"""What every ``eskit`` command shares: settings, the console, running work on a store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from eskit.errors import EskitError
from eskit.serving.event_loop import run_on_uvloop
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, open_store

__all__ = ["DatabaseUrl", "console", "run_with_store", "settings_for"]

T = TypeVar("T")
console = Console()

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database-url", envvar="ESKIT_DATABASE_URL", help="Overrides the settings."),
]


def settings_for(database_url: str | None) -> EskitSettings:
    """The settings, with ``--database-url`` taking precedence."""
    settings = EskitSettings()
    if database_url:
        settings = settings.model_copy(update={"database_url": database_url})
    return settings


def run_with_store(
    database_url: str | None,
    work: Callable[[EventStoreBackend, EskitSettings], Awaitable[T]],
    *,
    migrate: bool | None = None,
) -> T:
    """Open the configured store, run ``work`` on it, and turn eskit errors into exit code 1."""
    settings = settings_for(database_url)

    async def go() -> T:
        async with open_store(
            settings.database_url, migrate=migrate, **settings.store_options()
        ) as store:
            return await work(store, settings)

    try:
        return run_on_uvloop(go())
    except EskitError as exc:
        console.print(f"[red]error[/red] ({exc.code}): {exc}")
        raise typer.Exit(1) from exc
