"""``eskit``: migrate the store, inspect streams and the read horizon, serve, run projections,
look at sagas and the command queue."""

from __future__ import annotations

import typer
from rich.table import Table

from eskit.cli.bus import consume_command, dead_letters_app, relay_app
from eskit.cli.context import DatabaseUrl, console, run_with_store
from eskit.cli.help_format import use_flag_aware_help
from eskit.cli.projections import projections_app
from eskit.cli.queue import queue_app
from eskit.cli.sagas import sagas_app
from eskit.cli.serve import serve_command, worker_command
from eskit.cli.streams import streams_app
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

__all__ = ["app", "main"]

app = typer.Typer(help="eskit: event sourcing and CQRS for Python.", no_args_is_help=True)
store_app = typer.Typer(help="Look at the event store itself.", no_args_is_help=True)
app.add_typer(streams_app, name="streams")
app.add_typer(store_app, name="store")
app.add_typer(projections_app, name="projections")
app.add_typer(sagas_app, name="sagas")
app.add_typer(queue_app, name="queue")
app.command("serve")(serve_command)
app.command("worker")(worker_command)
app.add_typer(relay_app, name="relay")
app.command("consume")(consume_command)
app.add_typer(dead_letters_app, name="dead-letters")


@app.command()
def migrate(database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the event store schema."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> list[str]:
        return await store.migrate()

    applied = run_with_store(database_url, work, migrate=False)
    if applied:
        for name in applied:
            console.print(f"applied {name}")
    else:
        console.print("schema is up to date")


@store_app.command("horizon")
def horizon(database_url: DatabaseUrl = None) -> None:
    """How far global readers may read, and which transactions hold them back."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        h = await store.read_horizon()
        console.print(f"readers may read up to position {h.position}")
        console.print(f"committed events held back: {h.pending_events}")
        if h.blockers:
            table = Table("pid", "database", "user", "application", "state", "age (s)", "query")
            for b in h.blockers:
                table.add_row(
                    str(b.pid),
                    b.database or "",
                    b.user or "",
                    b.application or "",
                    b.state or "",
                    f"{b.age_s or 0:.1f}",
                    b.query or "",
                )
            console.print(table)

    run_with_store(database_url, work)


use_flag_aware_help(app)


def main() -> None:
    """Entry point of the ``eskit`` script."""
    app()
