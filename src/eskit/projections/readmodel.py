"""What every read model (table, documents, search index) shares.

A read model is a *definition*: a name, the tables it needs, and how to create them. Inside
a projection's transaction it is *bound* to the unit of work and to physical table names
(the live ones, or a rebuild's shadow ones); the bound writer buffers changes and writes
them in a few statements when the batch ends (its ``flush``). The SQL behind every step is
the store adapter's (see ``eskit.store.rows``).
"""

from __future__ import annotations

from typing import Any, Protocol

from eskit.store.unit_of_work import UnitOfWork

__all__ = ["SHADOW_SUFFIX", "ReadModel", "check_identifier"]

SHADOW_SUFFIX = "__rebuild"
"""Appended to a read model's table names while a rebuild fills them."""


class ReadModel(Protocol):
    """A read model definition."""

    @property
    def name(self) -> str: ...

    def table_names(self, base: str) -> list[str]:
        """The physical tables of this model when its main table is called ``base``."""
        ...

    async def create(self, tx: UnitOfWork, base: str) -> None:
        """Create the model's tables and indexes under ``base``."""
        ...

    def bind(self, tx: UnitOfWork, base: str) -> Any:
        """The model's writer in ``tx``, on the tables under ``base``; it buffers changes
        and writes them when the batch ends, in its ``async flush()``."""
        ...


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
