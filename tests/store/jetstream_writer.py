"""Writers for the JetStream load tests, in this process or as a process of their own.

Each writer has a connection of its own and appends to streams picked from a list, at the
version it has just read, retrying a ConcurrencyError as command handling does. The load
tests import :func:`run_writers`; run as a script, this module is a writer process.

Usage: python jetstream_writer.py SERVER_URL STORE_NAME PREFIX WRITERS APPENDS STREAM...
Prints one JSON line per acknowledged append, once all of its writers are done.
"""

import asyncio
import json
import random
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from eskit.domain import Event
from eskit.errors import ConcurrencyError
from eskit.store import NO_STREAM, NewEvent
from eskit.store.jetstream import JetStreamEventStore

ATTEMPTS = 500
"""Far more than command handling allows: here losing a race must never end a writer."""


class Written(Event):
    writer: str
    n: int


@dataclass(frozen=True)
class Acked:
    """An append the store confirmed."""

    writer: str
    stream_id: str
    event_ids: list[str]
    version: int
    position: int
    conflicts: int
    """ConcurrencyErrors met before the append won."""


async def append_at_read_version(
    store: JetStreamEventStore, stream_id: str, events: Sequence[NewEvent], rng: random.Random
) -> tuple[int, int, int]:
    """Append ``events`` at the version just read, reading again after each conflict;
    the stream's new version, the append's position and the conflicts met."""
    for attempt in range(ATTEMPTS):
        version = await store.stream_version(stream_id)
        try:
            result = await store.append(
                stream_id,
                events,
                expected_version=version or NO_STREAM,
                stream_type="load",
            )
        except ConcurrencyError:
            await asyncio.sleep(rng.uniform(0, 0.002 * min(attempt + 1, 20)))  # as handling does
            continue
        return result.version, result.position, attempt
    raise AssertionError(f"{stream_id}: no append won in {ATTEMPTS} attempts")


async def run_writer(
    store: JetStreamEventStore,
    writer: str,
    streams: Sequence[str],
    appends: int,
    rng: random.Random,
) -> list[Acked]:
    """``appends`` appends of 1-3 events each, numbered in order across the writer."""
    acked: list[Acked] = []
    n = 0
    for _ in range(appends):
        stream_id = rng.choice(streams)
        events = [NewEvent(Written(writer=writer, n=n + k)) for k in range(rng.randint(1, 3))]
        n += len(events)
        version, position, conflicts = await append_at_read_version(store, stream_id, events, rng)
        ids = [str(e.event_id) for e in events]
        acked.append(Acked(writer, stream_id, ids, version, position, conflicts))
    return acked


async def run_writers(
    server_url: str,
    name: str,
    prefix: str,
    writers: int,
    appends: int,
    streams: Sequence[str],
) -> list[Acked]:
    """``writers`` writers at once, each on a connection of its own; every ack."""

    async def one(number: int) -> list[Acked]:
        writer = f"{prefix}w{number}"
        rng = random.Random(writer)
        async with JetStreamEventStore.open(server_url, name=name, migrate=False) as store:
            return await run_writer(store, writer, streams, appends, rng)

    done = await asyncio.gather(*(one(n) for n in range(writers)))
    return [ack for acks in done for ack in acks]


def main(argv: Sequence[str]) -> None:
    server_url, name, prefix, writers, appends, *streams = argv
    acked = asyncio.run(run_writers(server_url, name, prefix, int(writers), int(appends), streams))
    for ack in acked:
        print(json.dumps(asdict(ack)))


if __name__ == "__main__":
    main(sys.argv[1:])
