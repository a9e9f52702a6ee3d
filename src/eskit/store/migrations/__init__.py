"""Numbered schema migrations, one folder of SQL scripts per backend."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

__all__ = ["Migration", "migrations_for"]


@dataclass(frozen=True, slots=True)
class Migration:
    """One numbered script; ``name`` is its file name without ``.sql``."""

    number: int
    name: str
    sql: str


def migrations_for(dialect: str) -> list[Migration]:
    """Every migration of ``dialect`` ("sqlite" or "postgres"), in number order."""
    folder = resources.files(__package__).joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        number = int(entry.name.split("_", 1)[0])
        found.append(Migration(number, entry.name.removesuffix(".sql"), entry.read_text()))
    found.sort(key=lambda m: m.number)
    if len({m.number for m in found}) != len(found):
        raise RuntimeError(f"two {dialect} migrations share a number")
    return found
