"""A JetStream store of its own for each test, on one NATS server, removed afterwards."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import nats
from nats.js.errors import NotFoundError

from eskit.store.jetstream import JetStreamEventStore
from eskit.store.jetstream.subjects import StoreNames

__all__ = ["drop_jetstream_store", "fresh_jetstream_store", "fresh_store_name"]


def fresh_store_name() -> str:
    """A store name no other test uses."""
    return f"t{uuid.uuid4().hex[:16]}"


@asynccontextmanager
async def fresh_jetstream_store(
    server_url: str, *, name: str | None = None, **options: float
) -> AsyncIterator[JetStreamEventStore]:
    """An empty, migrated JetStream store on ``server_url``; deleted on exit."""
    name = name or fresh_store_name()
    try:
        async with JetStreamEventStore.open(
            server_url,
            name=name,
            timeout_s=options.get("timeout_s", 5.0),
            duplicate_window_s=options.get("duplicate_window_s", 120.0),
        ) as store:
            yield store
    finally:
        await drop_jetstream_store(server_url, name)


async def drop_jetstream_store(server_url: str, name: str) -> None:
    """Delete a store's stream and buckets, if they are there."""
    names = StoreNames(name)
    client = await nats.connect(server_url, allow_reconnect=False)
    try:
        js = client.jetstream()
        for stream in (names.stream, f"KV_{names.snapshots}", f"KV_{names.outcomes}"):
            with suppress(NotFoundError):
                await js.delete_stream(stream)
    finally:
        await client.close()
