"""``eskit projections``: status, run, rebuild, park and dead letters.

The projections are those the operator named: ``--projections`` (``ESKIT_PROJECTIONS``) if
given, else those of the service ``--service`` (``ESKIT_SERVICE``) names, with its sagas
(the processes it runs that are projections): they are shown, run, parked like the
projections, and a rebuild of one is refused (its history would issue its commands again).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Annotated

import typer
from rich.table import Table

from eskit.cli.context import DatabaseUrl, ServiceOption, console, run_with_store
from eskit.cli.lease_cells import LEASE_COLUMNS, lease_cells
from eskit.cli.projection_names import require_known
from eskit.cli.rebuild_progress import RebuildProgress
from eskit.errors import ProjectionNotFoundError
from eskit.projections.dead_letters import dead_letters, park
from eskit.projections.projection import Projection
from eskit.projections.rebuild import rebuild, require_rebuildable
from eskit.projections.runner import ProjectionRunner
from eskit.serving.service import ConfiguredProjections
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions

__all__ = ["projections_app"]

projections_app = typer.Typer(help="Run and look after projections.", no_args_is_help=True)

ProjectionsOption = Annotated[
    str | None,
    typer.Option(
        "--projections",
        envvar="ESKIT_PROJECTIONS",
        help="module:attribute naming the projections (a list or a function returning one); "
        "default: the service's.",
    ),
]


def _projections(store: EventStoreBackend, settings: EskitSettings) -> list[Projection]:
    parts = ConfiguredProjections(settings).parts(store)
    return [*parts.projections, *(p for p in parts.processes if isinstance(p, Projection))]


async def _check_name(store: EventStoreBackend, settings: EskitSettings, name: str | None) -> None:
    """``name``, if given, must be a configured projection's or have a stored checkpoint
    (ProjectionNotFoundError, listing those that do)."""
    if name is not None:
        named = settings.projections or settings.service
        await require_known(store, name, _projections(store, settings) if named else [])


def _pick(projections: list[Projection], names: list[str]) -> list[Projection]:
    if not names:
        return projections
    known = {p.name: p for p in projections}
    missing = [n for n in names if n not in known]
    if missing:
        raise ProjectionNotFoundError(missing[0], sorted(known))
    return [known[n] for n in names]


@projections_app.command("status")
def status(
    database_url: DatabaseUrl = None,
    projections: ProjectionsOption = None,
    service: ServiceOption = None,
) -> None:
    """Every projection's state, position, lag, failure policy, parked events, last error,
    and which process runs it (its lease: holder, since when, last heartbeat)."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        runner = ProjectionRunner(store, _projections(store, settings))
        await runner.prepare()
        table = Table(
            "projection",
            "state",
            "position",
            "lag (events)",
            "lag (s)",
            "on failure",
            "parked",
            *LEASE_COLUMNS,
            "error",
        )
        for s in await runner.status():
            error = f"at {s.error_position}: {s.error}" if s.error else (s.stalled_reason or "")
            table.add_row(
                s.name,
                s.state,
                str(s.position),
                str(s.lag_events),
                f"{s.lag_seconds:.1f}",
                s.policy,
                str(s.parked),
                *lease_cells(s.lease),
                error,
            )
        console.print(table)

    run_with_store(database_url, work, projections=projections, service=service)


@projections_app.command("run")
def run(
    names: Annotated[list[str] | None, typer.Argument(help="Only these projections.")] = None,
    database_url: DatabaseUrl = None,
    projections: ProjectionsOption = None,
    service: ServiceOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
) -> None:
    """Keep projections up to date until SIGINT or SIGTERM (a worker process)."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        chosen = _pick(_projections(store, settings), names or [])
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with ProjectionRunner(
            store,
            chosen,
            batch_size=batch_size,
            lease_ttl_s=settings.lease_ttl_s,
            lease_retry_s=settings.lease_retry_s,
        ):
            console.print(f"running {', '.join(p.name for p in chosen)}", highlight=False)
            await stop.wait()
        console.print("stopped")

    run_with_store(database_url, work, projections=projections, service=service)


@projections_app.command("rebuild")
def rebuild_command(
    name: str,
    database_url: DatabaseUrl = None,
    projections: ProjectionsOption = None,
    service: ServiceOption = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 2000,
    inline: Annotated[
        bool, typer.Option(help="NAME is kept inline (in the append's transaction).")
    ] = False,
) -> None:
    """Rebuild NAME from the first event into shadow tables, then swap them in."""

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        (projection,) = _pick(_projections(store, settings), [name])
        require_rebuildable(projection)  # refused before a progress bar is drawn
        with RebuildProgress(console, name) as bar:
            result = await rebuild(
                store, projection, batch_size=batch_size, progress=bar.update, inline=inline
            )
            summary = bar.finish(result)
        console.print(summary, highlight=False)

    run_with_store(database_url, work, projections=projections, service=service)


@projections_app.command("park")
def park_command(
    name: str,
    position: Annotated[int | None, typer.Option(help="Default: where NAME is failing.")] = None,
    database_url: DatabaseUrl = None,
    projections: ProjectionsOption = None,
    service: ServiceOption = None,
) -> None:
    """Move the event NAME fails on into the dead letters, so NAME goes on without it.

    NAME must be one of the projections named (``--projections`` or ``--service``) or
    have a stored checkpoint.
    """

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        await _check_name(store, settings, name)
        letter = await park(require_transactions(store, "parking"), name, position)
        console.print(
            f"parked {letter.event_type} at position {letter.position} "
            f"(stream {letter.stream_id}) for {name}: {letter.error}",
            highlight=False,
        )

    run_with_store(database_url, work, projections=projections, service=service)


@projections_app.command("dead-letters")
def dead_letters_command(
    name: str | None = None,
    database_url: DatabaseUrl = None,
    projections: ProjectionsOption = None,
    service: ServiceOption = None,
) -> None:
    """List parked events, of NAME or of every projection.

    NAME must be one of the projections named (``--projections`` or ``--service``) or
    have a stored checkpoint.
    """

    async def work(store: EventStoreBackend, settings: EskitSettings) -> None:
        await _check_name(store, settings, name)
        table = Table("projection", "position", "event", "stream", "parked at", "error")
        for d in await dead_letters(require_transactions(store, "dead letters"), name):
            table.add_row(
                d.projection,
                str(d.position),
                d.event_type,
                d.stream_id,
                d.parked_at.isoformat(timespec="seconds"),
                d.error,
            )
        console.print(table)

    run_with_store(database_url, work, projections=projections, service=service)
