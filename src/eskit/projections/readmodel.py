"""What every read model (table, documents, search index) shares.

A read model is a *definition*: a name, the tables it needs, and how to create them on each
backend. Inside a projection's transaction it is *bound* to a session and to physical table
names (the live ones, or a rebuild's shadow ones); the bound writer buffers changes and
writes them in a few statements when the batch ends (its ``flush``).

Index names carry a random suffix chosen when the table is created, so a rebuild's shadow
table and the live one never compete for a name, and swapping is only a table rename.
"""

from __future__ import annotations

import secrets
from typing import Any, Protocol

from eskit.projections.session import Dialect, Session

__all__ = ["SHADOW_SUFFIX", "ReadModel", "table_exists", "unique_suffix"]

SHADOW_SUFFIX = "__rebuild"
"""Appended to a read model's table names while a rebuild fills them."""


class ReadModel(Protocol):
    """A read model definition."""

    name: str

    def table_names(self, base: str) -> list[str]:
        """The physical tables of this model when its main table is called ``base``."""
        ...

    def create_sql(self, dialect: Dialect, base: str) -> list[str]:
        """Statements that create the model's tables and indexes under ``base``."""
        ...

    def bind(self, session: Session, base: str) -> Any:
        """The model's writer in ``session``, on the tables under ``base``; it buffers
        changes and writes them when the batch ends, in its ``async flush()``."""
        ...


def unique_suffix() -> str:
    """A short random suffix for index names."""
    return secrets.token_hex(4)


async def table_exists(session: Session, table: str) -> bool:
    """Whether ``table`` exists in the session's database."""
    if session.dialect == "sqlite":
        rows = await session.fetch(
            "SELECT 1 FROM sqlite_master WHERE name = ? AND type IN ('table', 'view')", (table,)
        )
    else:
        rows = await session.fetch("SELECT to_regclass(%s) IS NOT NULL", (table,))
        return bool(rows[0][0])
    return bool(rows)


def check_identifier(name: str) -> str:
    """Table and column names are spliced into SQL: allow only plain identifiers."""
    if (
        not name
        or not name.replace("_", "a").isalnum()
        or not name[0].isalpha()
        or not name.isascii()
    ):
        raise ValueError(f"not a plain SQL identifier (letters, digits, _): {name!r}")
    return name
