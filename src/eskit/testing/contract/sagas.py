"""What every transactional store must do with saga instances (``tx.sagas``).

An instance is created at version 1 and each later write names the version it read
(compare-and-set): a write from a stale version, or the creation of an instance that
exists, raises SagaConflictError and its transaction keeps nothing.
"""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from eskit.errors import SagaConflictError
from eskit.store import TransactionalStore
from eskit.store.queue import QueuedCommand
from eskit.store.sagas import SagaRecord, SagaStatus
from eskit.testing.contract.hooks import TransactionalStoreUnderTest

__all__ = ["SagaContract"]

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def started(
    correlation_id: str = "invoice-1",
    *,
    saga: str = "financing",
    status: SagaStatus = "running",
    at: datetime = T0,
) -> SagaRecord:
    """A new instance (version 1) of ``saga``."""
    return SagaRecord(
        saga=saga,
        correlation_id=correlation_id,
        status=status,
        step="requested",
        version=1,
        started_at=at,
        updated_at=at,
        state={"amount": "120.50", "lines": [1, 2], "note": "ünï ✓"},
    )


def moved(record: SagaRecord, step: str, **changes: Any) -> SagaRecord:
    """``record`` one version on, at ``step``, written a minute after it."""
    return dataclasses.replace(
        record,
        step=step,
        version=record.version + 1,
        updated_at=record.updated_at + timedelta(minutes=1),
        **changes,
    )


async def put(db: TransactionalStore, *records: SagaRecord) -> None:
    async with db.transaction() as tx:
        await tx.sagas.put(records)


def ids(records: Sequence[SagaRecord]) -> list[str]:
    return [r.correlation_id for r in records]


class SagaContract(TransactionalStoreUnderTest):
    """Saga instances: created at version 1, then written by compare-and-set on version."""

    async def test_a_new_instance_is_read_back_at_version_1(self, db: TransactionalStore) -> None:
        record = started()

        async with db.transaction() as tx:
            await tx.sagas.put([record])
            assert await tx.sagas.get("financing", ["invoice-1"]) == {"invoice-1": record}

        found = await db.committed.sagas.get("financing", ["invoice-1", "invoice-9"])
        assert found == {"invoice-1": record}
        assert await db.committed.sagas.get("other", ["invoice-1"]) == {}
        assert await db.committed.sagas.get("financing", []) == {}

    async def test_an_instance_moves_on_from_the_version_it_was_read_at(
        self, db: TransactionalStore
    ) -> None:
        first = started()
        await put(db, first)
        second = moved(first, "approved", state={"amount": "120.50", "approved_by": "ann"})

        await put(db, second)

        assert await db.committed.sagas.get("financing", ["invoice-1"]) == {"invoice-1": second}

    async def test_a_write_from_a_stale_version_is_a_conflict_and_keeps_nothing(
        self, db: TransactionalStore
    ) -> None:
        first = started()
        await put(db, first)
        await put(db, moved(first, "approved"))
        stale = moved(first, "rejected", status="failed", reason="late")
        deadline = QueuedCommand(uuid.uuid4(), "Expire", "{}", T0, T0)

        async def enqueue_and_write_stale() -> None:
            async with db.transaction() as tx:
                await tx.queue.enqueue([deadline])
                await tx.sagas.put([started("invoice-2"), stale])

        with pytest.raises(SagaConflictError) as raised:
            await enqueue_and_write_stale()

        assert (raised.value.saga, raised.value.correlation_ids) == ("financing", ["invoice-1"])
        kept = await db.committed.sagas.get("financing", ["invoice-1", "invoice-2"])
        assert {k: (r.version, r.step) for k, r in kept.items()} == {"invoice-1": (2, "approved")}
        assert await db.committed.queue.get(deadline.id) is None

    async def test_creating_an_instance_that_exists_is_a_conflict(
        self, db: TransactionalStore
    ) -> None:
        first = started()
        await put(db, first)

        with pytest.raises(SagaConflictError, match="invoice-1"):
            await put(db, started(at=T0 + timedelta(hours=1)))

        assert await db.committed.sagas.get("financing", ["invoice-1"]) == {"invoice-1": first}

    async def test_of_two_writers_from_one_version_one_wins(self, db: TransactionalStore) -> None:
        first = started()
        await put(db, first)

        async def write(step: str) -> str:
            async with db.transaction() as tx:
                await tx.sagas.put([moved(first, step)])
            return step

        results = await asyncio.gather(write("a"), write("b"), return_exceptions=True)

        won = [r for r in results if isinstance(r, str)]
        assert len(won) == 1
        assert [type(r) for r in results if not isinstance(r, str)] == [SagaConflictError]
        stored = (await db.committed.sagas.get("financing", ["invoice-1"]))["invoice-1"]
        assert (stored.version, stored.step) == (2, won[0])

    async def test_list_filters_by_saga_status_and_update_time_least_recent_first(
        self, db: TransactionalStore
    ) -> None:
        await put(
            db,
            started("late", at=T0 + timedelta(hours=2)),
            started("early", at=T0),
            started("middle", at=T0 + timedelta(hours=1)),
            started("done", status="completed", at=T0),
            started("elsewhere", saga="shipping", at=T0 + timedelta(minutes=30)),
        )
        listed = db.committed.sagas.list

        assert ids(await listed(saga="financing", status="running")) == ["early", "middle", "late"]
        assert ids(await listed(updated_before=T0 + timedelta(hours=1))) == [
            "done",
            "early",
            "elsewhere",
        ]
        assert ids(await listed(status="completed")) == ["done"]
        assert ids(await listed(saga="shipping")) == ["elsewhere"]
        assert ids(await listed(saga="financing", limit=2)) == ["done", "early"]
        assert await listed(saga="nothing") == []

    async def test_counts_give_the_instances_of_each_saga_in_each_status(
        self, db: TransactionalStore
    ) -> None:
        assert await db.committed.sagas.counts() == {}
        await put(
            db,
            started("a"),
            started("b"),
            started("c", status="failed"),
            started("d", saga="shipping"),
        )

        assert await db.committed.sagas.counts() == {
            ("financing", "running"): 2,
            ("financing", "failed"): 1,
            ("shipping", "running"): 1,
        }
