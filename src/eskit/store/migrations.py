"""Numbered schema migrations: SQL scripts kept in each adapter's ``migrations`` package."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

__all__ = ["Migration", "migrations_in"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered script; ``name`` is its file name without ``.sql``."""

    number: int
    name: str
    sql: str


def migrations_in(package: str) -> list[Migration]:
    """Every ``NNNN_name.sql`` script of ``package``, in number order."""
    found = []
    for entry in resources.files(package).iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number = int(entry.name.split("_", 1)[0])
        found.append(Migration(number, entry.name.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.number)
    if len({m.number for m in found}) != len(found):
        raise RuntimeError(f"two migrations of {package} share a number")
    return found
