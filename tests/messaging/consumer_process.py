"""A consumer in a process of its own, for the SIGKILL tests: the counting consumer of the
messaging tests, on a SQLite file and a bus given on the command line."""

from __future__ import annotations

import asyncio
import sys

from eskit.domain.events import Event
from eskit.messaging import Topology
from eskit.messaging.consumer import ConsumerRunner, MessageContext
from eskit.messaging.urls import open_bus
from eskit.store import SQLiteEventStore
from tests.messaging.support import counting


async def main(database: str, bus_url: str, prefix: str, group: str) -> None:
    bus = open_bus(bus_url, Topology(prefix=prefix))
    async with SQLiteEventStore.open(database) as store:
        consumer = counting(name=group)
        consumer.batch_size = 25
        handle = consumer.handlers["test.counted"]

        async def slowly(event: Event, ctx: MessageContext) -> None:
            await asyncio.sleep(0.02)  # a batch takes half a second: a kill lands inside one
            await handle(event, ctx)

        consumer.handlers["test.counted"] = slowly
        await ConsumerRunner(store, bus, consumer).run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
