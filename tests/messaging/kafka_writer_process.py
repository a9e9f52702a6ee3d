"""A Kafka repository writer in a process of its own, for the single-writer tests: it opens
the repository of members on the broker and prefix given on the command line, says
``ready`` on stdout, and holds the writer lease until SIGTERM (which releases it) or
SIGKILL (which leaves it to run out)."""

from __future__ import annotations

import asyncio
import signal
import sys

from eskit.messaging import Topology
from eskit.messaging.kafka_repository import KafkaRepository
from tests.messaging.members import Member


async def main(bootstrap_servers: str, prefix: str, ttl_s: str) -> None:
    repository = KafkaRepository(
        bootstrap_servers,
        Member,
        topology=Topology(prefix=prefix),
        partitions=2,
        idempotent=False,
        lease_ttl_s=float(ttl_s),
    )
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    async with repository:  # SIGTERM closes it: the lease is released
        print("ready", flush=True)
        await stop.wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
