"""Waiting until a projection has handled a position, from any process.

In the runner's own process :meth:`ProjectionRunner.wait_for` wakes on each committed batch.
Elsewhere (a web process reading what a worker process projects) the checkpoint row is the
only witness, so :func:`wait_for_checkpoint` reads it, backing off from 1 ms to 25 ms: it
returns as soon as the checkpoint has passed, never after a fixed sleep.
"""

from __future__ import annotations

import asyncio
import time

from eskit.errors import NotCaughtUpError
from eskit.store.unit_of_work import TransactionalStore

__all__ = ["wait_for_checkpoint"]


async def wait_for_checkpoint(
    store: TransactionalStore, name: str, position: int, *, timeout_s: float = 5.0
) -> int:
    """Return the checkpoint of ``name`` once it is at least ``position``.

    Raises NotCaughtUpError (naming how far it got) after ``timeout_s``.
    """
    deadline = time.monotonic() + timeout_s
    delay = 0.001
    while True:
        reached = (await store.committed.checkpoints.get(name)).position
        if reached >= position:
            return reached
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NotCaughtUpError(name, position, reached, timeout_s)
        await asyncio.sleep(min(delay, remaining))
        delay = min(delay * 2, 0.025)
