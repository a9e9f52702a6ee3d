"""``eskit sagas``: the saga instances as stored, and those that seem stuck.

A ``running`` or ``compensating`` instance no event has moved for ``--stuck-after``
seconds is shown as ``stuck``: it waits for an event that may never come (or a deadline
that was never set). Nothing here changes an instance.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal, get_args

import typer
from rich.table import Table
from rich.text import Text

from eskit.cli.context import DatabaseUrl, console, run_with_store
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions
from eskit.store.sagas import SagaReader, SagaRecord, SagaStatus

__all__ = ["ShownStatus", "is_stuck", "sagas_app", "shown_reason"]

sagas_app = typer.Typer(help="Look at saga instances.", no_args_is_help=True)

ShownStatus = Literal["running", "completed", "compensating", "compensated", "failed", "stuck"]
LIVE: tuple[SagaStatus, ...] = ("running", "compensating")
"""The statuses of an instance still waiting for events: the ones that can be stuck."""
FINISHED: tuple[SagaStatus, ...] = ("completed", "compensated", "failed")

StuckAfter = Annotated[
    float,
    typer.Option(
        "--stuck-after",
        min=0,
        help="Seconds without an event after which a running or compensating instance "
        "is shown as stuck.",
    ),
]


def is_stuck(record: SagaRecord, cutoff: datetime) -> bool:
    """Whether ``record`` waits for an event and was last moved before ``cutoff``."""
    return record.status in LIVE and record.updated_at < cutoff


def shown_reason(record: SagaRecord, now: datetime, *, stuck: bool) -> str:
    """The reason shown for ``record``: its own, or for a stuck one without any, how long it
    has waited and where."""
    if record.reason or not stuck:
        return record.reason
    idle = max(0, int((now - record.updated_at).total_seconds()))
    return f"no event for {idle} s at step {record.step or '(none)'}"


async def _stuck(
    reader: SagaReader, saga: str | None, cutoff: datetime, limit: int
) -> list[SagaRecord]:
    found: list[SagaRecord] = []
    for status in LIVE:
        found += await reader.list(saga=saga, status=status, updated_before=cutoff, limit=limit)
    return sorted(found, key=lambda r: (r.updated_at, r.saga, r.correlation_id))[:limit]


async def _not_stuck(
    reader: SagaReader, saga: str | None, status: SagaStatus, cutoff: datetime, limit: int
) -> list[SagaRecord]:
    # least recently updated come first, stuck ones before the rest: read on past them
    asked = limit
    while True:
        rows = await reader.list(saga=saga, status=status, limit=asked)
        fresh = [r for r in rows if not is_stuck(r, cutoff)]
        if len(fresh) >= limit or len(rows) < asked:
            return fresh[:limit]
        asked *= 2


async def _all_stuck(reader: SagaReader, cutoff: datetime) -> list[SagaRecord]:
    asked = 1000
    while True:
        rows = await _stuck(reader, None, cutoff, asked)
        if len(rows) < asked:
            return rows
        asked *= 2


def _time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


@sagas_app.command("list")
def list_sagas(
    database_url: DatabaseUrl = None,
    saga: Annotated[str | None, typer.Option("--saga", help="Only this saga's instances.")] = None,
    status: Annotated[
        ShownStatus | None, typer.Option("--status", help="Only instances in this status.")
    ] = None,
    stuck_after: StuckAfter = 300.0,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
) -> None:
    """Saga instances, least recently updated first; those no event moved for
    --stuck-after seconds as stuck."""
    now = datetime.now(UTC)
    cutoff = now - timedelta(seconds=stuck_after)

    async def work(store: EventStoreBackend, settings: EskitSettings) -> list[SagaRecord]:
        reader = require_transactions(store, "sagas").committed.sagas
        if status == "stuck":
            return await _stuck(reader, saga, cutoff, limit)
        if status in LIVE:
            return await _not_stuck(reader, saga, status, cutoff, limit)
        return await reader.list(saga=saga, status=status, limit=limit)

    rows = run_with_store(database_url, work)
    table = Table("saga", "correlation id", "status", "step", "reason", "started", "updated")
    for r in rows:
        stuck = is_stuck(r, cutoff)
        table.add_row(
            Text(r.saga),
            Text(r.correlation_id),
            Text("stuck", style="red") if stuck else Text(r.status),
            Text(r.step),
            Text(shown_reason(r, now, stuck=stuck)),
            _time(r.started_at),
            _time(r.updated_at),
        )
    console.print(table)
    console.print(f"{len(rows)} instance(s)")


@sagas_app.command("counts")
def counts(database_url: DatabaseUrl = None, stuck_after: StuckAfter = 300.0) -> None:
    """Instances per saga and status; stuck ones counted apart from running and
    compensating."""
    cutoff = datetime.now(UTC) - timedelta(seconds=stuck_after)

    async def work(
        store: EventStoreBackend, settings: EskitSettings
    ) -> tuple[dict[tuple[str, SagaStatus], int], list[SagaRecord]]:
        reader = require_transactions(store, "sagas").committed.sagas
        return await reader.counts(), await _all_stuck(reader, cutoff)

    by_status, stuck = run_with_store(database_url, work)
    stuck_counts = Counter((r.saga, r.status) for r in stuck)
    columns: list[ShownStatus] = list(get_args(ShownStatus))
    table = Table("saga", *columns, "total")
    for name in sorted({saga for saga, _ in by_status}):
        shown: dict[str, int] = {
            s: by_status.get((name, s), 0) - stuck_counts[(name, s)] for s in (*LIVE, *FINISHED)
        }
        shown["stuck"] = sum(stuck_counts[(name, s)] for s in LIVE)
        table.add_row(Text(name), *(str(shown[c]) for c in columns), str(sum(shown.values())))
    console.print(table)
