"""Creating a projection's read-model tables when they do not exist yet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eskit.projections.readmodel import ReadModel
from eskit.store.unit_of_work import TransactionalStore, UnitOfWork

__all__ = ["create_tables", "ensure_tables"]


async def create_tables(
    tx: UnitOfWork, models: Sequence[ReadModel], bases: Mapping[str, str] | None = None
) -> None:
    """Create each model's tables (under ``bases[model.name]`` or its own name) if missing."""
    for model in models:
        base = (bases or {}).get(model.name, model.name)
        # two processes starting at once must not both create the tables
        await tx.schema.guard(base)
        if not await tx.schema.exists(base):
            await model.create(tx, base)


async def ensure_tables(store: TransactionalStore, models: Sequence[ReadModel]) -> None:
    """Create the live tables of ``models`` that do not exist yet."""
    if models:
        async with store.transaction() as tx:
            await create_tables(tx, models)
