"""A writer process for the SIGKILL tests: appends 10-event batches until killed.

Usage: python sigkill_writer.py DATABASE_URL WRITER_ID
Prints one line per committed batch, so the test knows how far it got.
"""

import asyncio
import sys

from eskit.domain import Event
from eskit.store import ANY, open_store


class Written(Event):
    writer: str
    batch: int
    index: int
    padding: str


async def main(url: str, writer: str) -> None:
    async with open_store(url) as store:
        batch = 0
        while True:
            events = [
                Written(writer=writer, batch=batch, index=i, padding="x" * 2000) for i in range(10)
            ]
            await store.append(f"{writer}-{batch % 7}", events, expected_version=ANY)
            print(batch, flush=True)
            batch += 1


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
