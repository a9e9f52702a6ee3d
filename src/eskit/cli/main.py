"""``eskit``: migrate the store, inspect streams and the read horizon, serve, run projections."""

from __future__ import annotations

from typing import Annotated

import orjson
import typer
from rich.table import Table

from eskit.cli.context import DatabaseUrl, console, run_with_store
from eskit.cli.help_format import use_flag_aware_help
from eskit.cli.projections import projections_app
from eskit.cli.serve import serve_command, worker_command
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend

__all__ = ["app", "main"]

app = typer.Typer(help="eskit: event sourcing and CQRS for Python.", no_args_is_help=True)
streams = typer.Typer(help="Look at event streams.", no_args_is_help=True)
store_app = typer.Typer(help="Look at the event store itself.", no_args_is_help=True)
app.add_typer(streams, name="streams")
app.add_typer(store_app, name="store")
app.add_typer(projections_app, name="projections")
app.command("serve")(serve_command)
app.command("worker")(worker_command)


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


@streams.command("list")
def list_streams(
    database_url: DatabaseUrl = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    after: Annotated[int, typer.Option(help="Continue after this first-event position.")] = 0,
    stream_type: Annotated[str | None, typer.Option("--type")] = None,
) -> None:
    """List streams in the order they were created."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        rows = await store.list_streams(limit=limit, after=after, stream_type=stream_type)
        table = Table("type", "version", "created", "updated")
        table.add_column("stream", no_wrap=True)  # ids are copied from here: never wrap them
        for s in rows:
            table.add_row(
                s.stream_type,
                str(s.version),
                s.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                s.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
                s.stream_id,
            )
        console.print(table)
        console.print(f"{len(rows)} stream(s)")

    run_with_store(database_url, work)


@streams.command("show")
def show_stream(
    stream_id: str,
    database_url: DatabaseUrl = None,
    metadata: Annotated[bool, typer.Option(help="Show each event's metadata too.")] = False,
) -> None:
    """Show a stream's full history as a table."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> int:
        events = await store.read_stream(stream_id)
        if not events:
            console.print(f"[red]stream {stream_id!r} not found[/red]")
            return 1
        table = Table("version", "position", "type", "recorded at", "data", title=stream_id)
        if metadata:
            table.add_column("metadata")
        for e in events:
            row = [
                str(e.version),
                str(e.position),
                f"{e.event_type} v{e.schema_version}",
                e.recorded_at.isoformat(timespec="milliseconds"),
                orjson.dumps(e.data).decode(),
            ]
            if metadata:
                row.append(orjson.dumps(e.metadata).decode())
            table.add_row(*row)
        console.print(table)
        return 0

    if run_with_store(database_url, work):
        raise typer.Exit(1)


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
