"""The console's pages of the running parts: overview, projections, relay and consumers,
dead letters, sagas, the read horizon."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from eskit.admin.formatting import held_by
from eskit.admin.state import Console
from eskit.messaging.background import IN_PROCESS_LEASE
from eskit.messaging.relay import CHECKPOINT_PREFIX, RelayStatus
from eskit.projections import Projection, ProjectionStatus
from eskit.store import TransactionalStore, has_transactions
from eskit.store.leases import lease_info
from eskit.store.sagas import SagaRecord, SagaStatus

__all__ = [
    "ProjectionRow",
    "dead_letters",
    "horizon",
    "messaging",
    "overview",
    "projections",
    "sagas",
]

LETTERS_SHOWN = 500
"""Parked events listed at most on the dead-letter page (the count says how many there are)."""
SAGAS_SHOWN = 50
"""Saga instances listed at most per status."""
STUCK_AFTER_S = 300.0
"""A running or compensating saga no event moved for this long is shown as stuck."""


@dataclass(frozen=True)
class ProjectionRow:
    """A projection's status as the console lists it."""

    status: ProjectionStatus
    kind: str
    rebuildable: bool

    @property
    def held_by(self) -> str:
        """Who holds the projection's lease, as :func:`~eskit.admin.formatting.held_by` says."""
        return held_by(self.status.lease)


def _db(console: Console) -> TransactionalStore | None:
    store = console.sources.store
    return store if has_transactions(store) else None


async def _rows(console: Console) -> list[ProjectionRow]:
    rows = []
    for status in await console.sources.statuses():
        found = console.sources.projection(status.name)
        rebuildable = isinstance(found, Projection) and found.rebuildable
        rows.append(ProjectionRow(status, console.sources.kind(status.name), rebuildable))
    return rows


async def overview(console: Console, request: Request) -> Response:
    """The head of the log, the projections by state, the read horizon."""
    store = console.sources.store
    rows = await _rows(console)
    states = Counter(row.status.state for row in rows)
    return console.render(
        request,
        "overview.html",
        title="Overview",
        active="",
        head=await store.last_position(),
        horizon=await store.read_horizon(),
        states=sorted(states.items()),
        unhealthy=[row for row in rows if not row.status.healthy],
        relays=_relays_here(console),
    )


async def projections(console: Console, request: Request) -> Response:
    """Every projection and process: position, lag, state, errors; rebuild and park."""
    jobs = list(console.rebuilds.jobs.values())
    running = any(job.state == "running" for job in jobs)
    fragment = request.query_params.get("fragment") == "1"
    return console.render(
        request,
        "projections_table.html" if fragment else "projections.html",
        title="Projections",
        active="projections",
        rows=await _rows(console),
        jobs=jobs,
        refresh=3 if running else None,
    )


def _relays_here(console: Console) -> list[RelayStatus]:
    tasks = console.sources.messaging()
    return [tasks.relay.status()] if tasks is not None and tasks.relay is not None else []


async def _stored_relays(console: Console) -> list[dict[str, Any]]:
    """Relays as their stored checkpoints tell (those running elsewhere too)."""
    db = _db(console)
    if db is None:
        return []
    head = await db.last_position()
    leases = {lease.name: lease for lease in await db.committed.leases.list()}
    return [
        {
            "name": name.removeprefix(CHECKPOINT_PREFIX),
            "position": row.position,
            "lag": max(head - row.position, 0),
            "state": "stalled" if row.error else "ok",
            "error": row.error,
            "updated_at": row.updated_at,
            # on the in-process bus the relay runs under the lease of its whole process
            "lease": lease_info(leases.get(name) or leases.get(IN_PROCESS_LEASE)),
        }
        for name, row in sorted((await db.committed.checkpoints.all()).items())
        if name.startswith(CHECKPOINT_PREFIX)
    ]


async def messaging(console: Console, request: Request) -> Response:
    """The relay (here, and as stored) and the consumers this process runs."""
    tasks = console.sources.messaging()
    runners = {r.consumer.name: r for r in tasks.runners} if tasks is not None else {}
    consumers = [(c, runners.get(c.name)) for c in console.sources.consumers]
    return console.render(
        request,
        "messaging.html",
        title="Relay & consumers",
        active="messaging",
        relays=_relays_here(console),
        stored=await _stored_relays(console),
        consumers=consumers,
        bus=tasks is not None,
    )


async def dead_letters(console: Console, request: Request) -> Response:
    """Parked events of every projection, and the consumers' dead letters."""
    db = _db(console)
    letters = await db.committed.dead_letters.all() if db is not None else []
    tasks = console.sources.messaging()
    runners = {r.consumer.name: r for r in tasks.runners} if tasks is not None else {}
    return console.render(
        request,
        "dead_letters.html",
        title="Dead letters",
        active="dead-letters",
        letters=letters[:LETTERS_SHOWN],
        total=len(letters),
        consumers=[(c, runners.get(c.name)) for c in console.sources.consumers],
        bus=tasks is not None,
    )


async def sagas(console: Console, request: Request) -> Response:
    """Saga instances by status: stuck, failed, compensated, running; with step and reason."""
    db = _db(console)
    now = datetime.now(UTC)
    cutoff = now - timedelta(seconds=STUCK_AFTER_S)
    groups: list[tuple[str, list[SagaRecord]]] = []
    counts: dict[tuple[str, SagaStatus], int] = {}
    if db is not None:
        reader = db.committed.sagas
        counts = await reader.counts()
        stuck: list[SagaRecord] = []
        live: tuple[SagaStatus, ...] = ("running", "compensating")
        for status in live:
            stuck += await reader.list(status=status, updated_before=cutoff, limit=SAGAS_SHOWN)
        groups.append(("stuck", sorted(stuck, key=lambda r: r.updated_at)[:SAGAS_SHOWN]))
        shown: tuple[SagaStatus, ...] = ("failed", "compensating", "compensated", "running")
        for listed_status in shown:
            listed = await reader.list(status=listed_status, limit=SAGAS_SHOWN)
            groups.append((listed_status, listed))
    names = sorted({saga for saga, _ in counts})
    columns: list[SagaStatus] = ["running", "compensating", "compensated", "failed", "completed"]
    return console.render(
        request,
        "sagas.html",
        title="Sagas",
        active="sagas",
        groups=groups,
        names=names,
        columns=columns,
        counts=counts,
        now=now,
        stuck_after=int(STUCK_AFTER_S),
        available=db is not None,
    )


async def horizon(console: Console, request: Request) -> Response:
    """How far readers of the log may go, and which transactions hold them back."""
    store = console.sources.store
    return console.render(
        request,
        "horizon.html",
        title="Read horizon",
        active="horizon",
        horizon=await store.read_horizon(),
        head=await store.last_position(),
    )
