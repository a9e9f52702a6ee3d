"""Creating a projection's read-model tables when they do not exist yet."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from eskit.projections.database import ReadDatabase
from eskit.projections.readmodel import ReadModel, table_exists
from eskit.projections.session import Session

__all__ = ["create_tables", "ensure_tables"]


async def create_tables(
    session: Session, models: Sequence[ReadModel], bases: Mapping[str, str] | None = None
) -> None:
    """Create each model's tables (under ``bases[model.name]`` or its own name) if missing."""
    for model in models:
        base = (bases or {}).get(model.name, model.name)
        if session.dialect == "postgres":
            # two processes starting at once must not both create the tables
            await session.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (base,))
        if await table_exists(session, base):
            continue
        for statement in model.create_sql(session.dialect, base):
            await session.execute(statement)


async def ensure_tables(db: ReadDatabase, models: Sequence[ReadModel]) -> None:
    """Create the live tables of ``models`` that do not exist yet."""
    if models:
        await db.transaction(lambda session: create_tables(session, models))
