"""``eskit queue``: the command queue as stored: its commands, one command in full, its depth.

Nothing here changes the queue: a command's outcome is recorded by the workers.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import orjson
import typer
from rich.table import Table
from rich.text import Text

from eskit.cli.context import DatabaseUrl, console, run_with_store
from eskit.errors import CommandNotFoundError
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions
from eskit.store.queue import QueuedCommand, QueueDepth, QueueReader, QueueStatus

__all__ = ["outcome_summary", "queue_app"]

queue_app = typer.Typer(help="Look at the command queue.", no_args_is_help=True)


def _reader(store: EventStoreBackend) -> QueueReader:
    return require_transactions(store, "the command queue").committed.queue


def outcome_summary(command: QueuedCommand) -> str:
    """One line on how ``command`` went: the error code of a refused or dead one, where a
    done one left its aggregate, the last error of one being retried."""
    outcome = command.outcome or {}
    error = outcome.get("error")
    if isinstance(error, dict):
        return str(error.get("code", ""))
    if command.status == "done":
        return f"version {outcome.get('version')} at position {outcome.get('position')}"
    return command.error or ""


def _time(moment: datetime | None) -> str:
    return "" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _json_text(value: Any) -> Text:
    # json's ", " and ": " give the wrapping places to break; Text: never rich markup
    return Text(json.dumps(value, ensure_ascii=False))


@queue_app.command("list")
def list_commands(
    database_url: DatabaseUrl = None,
    status: Annotated[
        QueueStatus | None, typer.Option("--status", help="Only commands in this status.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Queued commands, oldest enqueued first."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> list[QueuedCommand]:
        return await _reader(store).list(status=status, limit=limit)

    rows = run_with_store(database_url, work)
    table = Table("id", "type", "status", "attempts", "due", "error / outcome")
    table.columns[0].no_wrap = True  # copied from here into `eskit queue show`
    for c in rows:
        table.add_row(
            str(c.id),
            Text(c.command_type),
            c.status,
            str(c.attempts),
            _time(c.available_at),
            Text(outcome_summary(c)),
        )
    console.print(table)
    console.print(f"{len(rows)} command(s)")


@queue_app.command("show")
def show_command(
    command_id: Annotated[uuid.UUID, typer.Argument(help="The command's id.")],
    database_url: DatabaseUrl = None,
) -> None:
    """One queued command: every field, its payload, metadata and outcome as JSON."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> QueuedCommand:
        found = await _reader(store).get(command_id)
        if found is None:
            raise CommandNotFoundError("command", str(command_id))
        return found

    c = run_with_store(database_url, work)
    table = Table.grid(padding=(0, 2))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    fields: list[tuple[str, str | Text]] = [
        ("id", str(c.id)),
        ("type", Text(c.command_type)),
        ("status", c.status),
        ("attempts", str(c.attempts)),
        ("key", Text(c.key or "")),
        ("enqueued at", _time(c.enqueued_at)),
        ("due at", _time(c.available_at)),
        ("updated at", _time(c.updated_at)),
        ("lease until", _time(c.lease_until)),
        ("last error", Text(c.error or "")),
        ("payload", _json_text(orjson.loads(c.payload))),
        ("metadata", _json_text(c.metadata)),
        ("outcome", _json_text(c.outcome)),
    ]
    for name, value in fields:
        table.add_row(name, value)
    console.print(table)


@queue_app.command("depth")
def depth(database_url: DatabaseUrl = None) -> None:
    """How many commands are ready, running and scheduled, and how long the oldest ready
    one has waited."""

    now = datetime.now(UTC)

    async def work(store: EventStoreBackend, settings: EskitSettings) -> QueueDepth:
        return await _reader(store).depth(now)

    d = run_with_store(database_url, work)
    waited = "" if d.oldest_ready_at is None else f"{(now - d.oldest_ready_at).total_seconds():.1f}"
    table = Table("ready", "running", "scheduled", "oldest ready waited (s)")
    table.add_row(str(d.ready), str(d.running), str(d.scheduled), waited)
    console.print(table)
