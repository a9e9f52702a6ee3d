"""Given / then for projections, on a real store, in users' own tests.

::

    async with ProjectionScenario(AccountsById()) as scenario:
        await scenario.given("acc-1", AccountOpened(...), MoneyDeposited(...))
        doc = await ACCOUNTS.get(scenario.store, "acc-1")
        assert doc.body["balance"] == 150

``given`` appends the events to a stream and lets the projection handle everything up to
them before it returns: no sleeping, no polling. By default the store is a SQLite file in a
temporary folder; pass ``store=`` to run the same scenario on PostgreSQL.
"""

from __future__ import annotations

import tempfile
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType

from eskit.domain.events import Event
from eskit.projections.projection import Projection
from eskit.projections.runner import ProjectionRunner
from eskit.projections.waiting import wait_for_checkpoint
from eskit.store.port import EventStoreBackend
from eskit.store.records import ANY, StoredEvent
from eskit.store.unit_of_work import TransactionalStore, require_transactions
from eskit.store.urls import open_store

__all__ = ["ProjectionScenario", "wait_until_processed"]


class ProjectionScenario:
    """One or more projections fed with given events on a real store."""

    def __init__(
        self,
        *projections: Projection,
        store: EventStoreBackend | None = None,
        stream_type: str = "",
    ) -> None:
        self.projections = projections
        self.stream_type = stream_type
        self._given_store = store
        self._stack = AsyncExitStack()
        self.store: TransactionalStore
        """The store the events and the read models are in (query the read models on it)."""
        self.runner: ProjectionRunner

    async def __aenter__(self) -> ProjectionScenario:
        if self._given_store is None:
            folder = self._stack.enter_context(tempfile.TemporaryDirectory())
            path = (Path(folder) / "scenario.db").resolve()
            opened = await self._stack.enter_async_context(
                open_store(f"sqlite:///{path}", sqlite_synchronous="NORMAL")
            )
            self.store = require_transactions(opened, "projection scenarios")
        else:
            self.store = require_transactions(self._given_store, "projection scenarios")
        self.runner = ProjectionRunner(self.store, self.projections)
        await self.runner.prepare()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stack.aclose()

    async def given(
        self, stream_id: str, *events: Event, stream_type: str | None = None
    ) -> list[StoredEvent]:
        """Append ``events`` to ``stream_id``; return once every projection has handled them.

        Raises what a handler raised, so a failing handler fails the test at its event.
        """
        kind = self.stream_type if stream_type is None else stream_type
        result = await self.store.append(stream_id, events, expected_version=ANY, stream_type=kind)
        await self.runner.catch_up()
        return await self.store.read_stream(
            stream_id, from_version=result.version - len(events) + 1
        )


async def wait_until_processed(
    target: ProjectionRunner | EventStoreBackend,
    name: str,
    position: int,
    *,
    timeout_s: float = 5.0,
) -> None:
    """Return once projection ``name`` has handled ``position``; NotCaughtUpError past the bound.

    Give the runner when it runs in this process (it wakes on each batch), or the store
    when a worker process runs the projection (the checkpoint is watched).
    """
    if isinstance(target, ProjectionRunner):
        await target.wait_for(position, names=[name], timeout_s=timeout_s)
        return
    store = require_transactions(target, "waiting for a projection")
    await wait_for_checkpoint(store, name, position, timeout_s=timeout_s)
