"""Which projection names an ``eskit projections`` command accepts.

A name is known if the configured projections (``--projections`` or the service's) have
it, or if the store keeps a checkpoint under it (a projection run before, perhaps by a
service this command was not told about). Every subcommand that takes a name refuses an
unknown one the same way: ProjectionNotFoundError, listing the names it knows.
"""

from __future__ import annotations

from collections.abc import Sequence

from eskit.errors import ProjectionNotFoundError
from eskit.projections.projection import Projection
from eskit.projections.readmodel import SHADOW_SUFFIX
from eskit.store import EventStoreBackend, has_transactions

__all__ = ["require_known", "stored_names"]


async def stored_names(store: EventStoreBackend) -> list[str]:
    """Names with a stored checkpoint, but for a rebuild's own (none without transactions)."""
    if not has_transactions(store):
        return []
    names = await store.committed.checkpoints.all()
    return sorted(n for n in names if not n.endswith(SHADOW_SUFFIX))


async def require_known(
    store: EventStoreBackend, name: str, configured: Sequence[Projection] = ()
) -> None:
    """Return if ``name`` is one of ``configured`` or has a stored checkpoint.

    Raises ProjectionNotFoundError listing every name that is.
    """
    names = {p.name for p in configured}
    if name in names:
        return
    stored = await stored_names(store)
    if name not in stored:
        raise ProjectionNotFoundError(name, sorted(names.union(stored)))
