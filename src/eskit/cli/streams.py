"""``eskit streams``: list streams and show a stream's history, for people or for scripts.

``--json`` prints one JSON object a line (JSON Lines), every field in full, times in
ISO 8601; the tables wrap what does not fit the terminal rather than cutting it.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from eskit.cli.context import DatabaseUrl, console, print_error, run_with_store
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, StoredEvent, StreamInfo

__all__ = ["event_json", "stream_json", "streams_app"]

streams_app = typer.Typer(help="Look at event streams.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="One JSON object a line, for scripts.")]


def stream_json(stream: StreamInfo) -> dict[str, Any]:
    """``stream`` as ``streams list --json`` prints it."""
    return {
        "stream_id": stream.stream_id,
        "stream_type": stream.stream_type,
        "version": stream.version,
        "created_at": stream.created_at,
        "updated_at": stream.updated_at,
        "first_position": stream.first_position,
    }


def event_json(event: StoredEvent) -> dict[str, Any]:
    """``event`` in full, as ``streams show --json`` prints it."""
    return {
        "id": str(event.event_id),
        "stream_id": event.stream_id,
        "stream_type": event.stream_type,
        "version": event.version,
        "position": event.position,
        "type": event.event_type,
        "schema_version": event.schema_version,
        "recorded_at": event.recorded_at,
        "data": event.data,
        "metadata": event.metadata,
    }


def _print_json_lines(objects: list[dict[str, Any]]) -> None:
    # straight to stdout: the console would wrap long lines and colour them
    for obj in objects:
        typer.echo(orjson.dumps(obj, option=orjson.OPT_UTC_Z).decode())


@streams_app.command("list")
def list_streams(
    database_url: DatabaseUrl = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    after: Annotated[int, typer.Option(help="Continue after this first-event position.")] = 0,
    stream_type: Annotated[str | None, typer.Option("--type")] = None,
    as_json: JsonOption = False,
) -> None:
    """List streams in the order they were created."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> list[StreamInfo]:
        return await store.list_streams(limit=limit, after=after, stream_type=stream_type)

    rows = run_with_store(database_url, work)
    if as_json:
        _print_json_lines([stream_json(s) for s in rows])
        return
    # no borders and times that break between date and time: an 80-column terminal
    # still holds a whole stream id, which is copied from here and so never wraps
    table = Table(box=None, pad_edge=False)
    table.add_column("type", overflow="fold")
    table.add_column("version")
    table.add_column("created", min_width=10)
    table.add_column("updated", min_width=10)
    table.add_column("stream", no_wrap=True)
    for s in rows:
        table.add_row(
            Text(s.stream_type),
            str(s.version),
            s.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            s.updated_at.strftime("%Y-%m-%d %H:%M:%S"),
            s.stream_id,
        )
    console.print(table)
    console.print(f"{len(rows)} stream(s)")


@streams_app.command("show")
def show_stream(
    stream_id: str,
    database_url: DatabaseUrl = None,
    metadata: Annotated[bool, typer.Option(help="Show each event's metadata too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a stream's full history, one block per event (--json: every field)."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> list[StoredEvent]:
        return await store.read_stream(stream_id)

    events = run_with_store(database_url, work)
    if not events:
        print_error("not_found", f"stream {stream_id!r} not found")
        raise typer.Exit(1)
    if as_json:
        _print_json_lines([event_json(e) for e in events])
        return
    console.print(
        Text.assemble((stream_id, "bold"), f" ({events[0].stream_type}), {len(events)} event(s)")
    )
    console.print(_history(events, metadata=metadata))


def _history(events: list[StoredEvent], *, metadata: bool) -> Table:
    """One block per event: its type and place, then its data (and metadata), wrapped."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for e in events:
        table.add_row("", "")
        table.add_row(
            Text(f"version {e.version}", style="bold"),
            Text(f"{e.event_type} v{e.schema_version}", style="bold"),
        )
        table.add_row("position", str(e.position))
        table.add_row("recorded at", e.recorded_at.isoformat(timespec="milliseconds"))
        table.add_row("data", _json_text(e.data))
        if metadata:
            table.add_row("metadata", _json_text(e.metadata))
    return table


def _json_text(value: dict[str, Any]) -> Text:
    # json's ", " and ": " give the wrapping places to break; Text: never rich markup
    return Text(json.dumps(value, ensure_ascii=False))
