"""Waiting, from any process, until a projection, the store or a stream has got somewhere.

In the runner's own process :meth:`ProjectionRunner.wait_for` wakes on each committed batch.
Elsewhere (a web process reading what a worker process projects, or what another process
appended) the store is the only witness, so these functions look again and again, backing
off from 1 ms to 25 ms between looks: they return as soon as what they wait for is there,
never after a fixed sleep, and raise NotCaughtUpError once ``timeout_s`` has passed.

* :func:`wait_for_checkpoint`: a projection has handled a position (read-your-writes on a
  read model);
* :func:`wait_for_head`: the store's global log reaches a position (read-your-writes on the
  events themselves);
* :func:`wait_for_stream_version`: a stream has an event of a version.
"""

from __future__ import annotations

import asyncio
import time

from eskit.errors import NotCaughtUpError, NotFoundError
from eskit.store import EventStoreBackend, StoredEvent
from eskit.store.unit_of_work import TransactionalStore

__all__ = ["wait_for_checkpoint", "wait_for_head", "wait_for_stream_version"]


class _Backoff:
    """The pauses between looks: 1 ms, doubling up to 25 ms, never past the deadline."""

    def __init__(self, timeout_s: float) -> None:
        self._deadline = time.monotonic() + timeout_s
        self._delay = 0.001

    async def pause(self) -> bool:
        """Sleep until the next look; False (at once) if the time is up."""
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            return False
        await asyncio.sleep(min(self._delay, remaining))
        self._delay = min(self._delay * 2, 0.025)
        return True


async def wait_for_checkpoint(
    store: TransactionalStore, name: str, position: int, *, timeout_s: float = 5.0
) -> int:
    """Return the checkpoint of the projection ``name`` once it is at least ``position``.

    Raises NotCaughtUpError (naming how far it got) after ``timeout_s``.
    """
    backoff = _Backoff(timeout_s)
    while (reached := (await store.committed.checkpoints.get(name)).position) < position:
        if not await backoff.pause():
            raise NotCaughtUpError(name, position, reached, timeout_s)
    return reached


async def wait_for_head(store: EventStoreBackend, position: int, *, timeout_s: float = 5.0) -> int:
    """Return the store's last position once it is at least ``position``.

    The last position is as far as global readers may read (see ``read_horizon``), so
    every event up to ``position`` can then be read. Raises NotCaughtUpError naming the
    ``"event store"`` after ``timeout_s``.
    """
    backoff = _Backoff(timeout_s)
    while (head := await store.last_position()) < position:
        if not await backoff.pause():
            raise NotCaughtUpError("", position, head, timeout_s, subject="the event store")
    return head


async def wait_for_stream_version(
    store: EventStoreBackend,
    stream_id: str,
    version: int,
    *,
    timeout_s: float = 5.0,
    what: str = "stream",
) -> StoredEvent:
    """Return the event of ``version`` of ``stream_id`` once it is written.

    Raises NotFoundError at once if the stream has no event at all (``what`` names it in
    the message, such as an aggregate's stream type): waiting would not make it exist.
    Raises NotCaughtUpError (the stream's id, its version reached) after ``timeout_s``.
    """
    backoff = _Backoff(timeout_s)
    while not (
        found := await store.read_stream(stream_id, from_version=version, to_version=version)
    ):
        latest = await store.stream_version(stream_id)
        if not latest:
            raise NotFoundError(what, stream_id)
        if not await backoff.pause():
            raise NotCaughtUpError(
                stream_id, version, latest, timeout_s, "version", subject="stream"
            )
    return found[0]
