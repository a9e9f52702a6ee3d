"""The PostgreSQL store's connection pool and append combining under pressure."""

import asyncio

import pytest

from eskit.domain import Event
from eskit.errors import StoreUnavailableError
from eskit.store import NO_STREAM
from eskit.store.postgres import PostgresEventStore
from eskit.store.postgres.pool import ConnectionPool

pytestmark = pytest.mark.integration


class Noted(Event):
    n: int


async def test_waiting_for_a_busy_pool_times_out_with_a_clear_error(postgres_url: str) -> None:
    pool = ConnectionPool(postgres_url, min_size=0, max_size=1, acquire_timeout_s=0.2)
    await pool.open()
    try:
        async with pool.connection():
            with pytest.raises(StoreUnavailableError, match="no PostgreSQL connection free"):
                async with pool.connection():
                    pass
        async with pool.connection() as conn:  # free again
            assert (await (await conn.execute("SELECT 1")).fetchone()) == (1,)
    finally:
        await pool.close()


async def test_the_pool_never_opens_more_than_its_size(postgres_url: str) -> None:
    pool = ConnectionPool(postgres_url, min_size=0, max_size=3)
    await pool.open()
    try:

        async def use() -> None:
            async with pool.connection() as conn:
                await conn.execute("SELECT pg_sleep(0.01)")

        await asyncio.gather(*(use() for _ in range(30)))
        assert pool.size <= 3
        assert pool.idle == pool.size
    finally:
        await pool.close()


async def test_cancelled_appends_leave_the_others_whole(postgres_url: str) -> None:
    async with PostgresEventStore.open(postgres_url, max_connections=4) as store:
        tasks = [
            asyncio.create_task(store.append(f"s{n}", [Noted(n=n)], expected_version=NO_STREAM))
            for n in range(40)
        ]
        await asyncio.sleep(0)
        for task in tasks[::3]:
            task.cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        written = {f"s{n}" for n, r in enumerate(results) if not isinstance(r, BaseException)}
        # every append that answered is stored, whole; the rest are stored at most once
        for n in range(40):
            events = await store.read_stream(f"s{n}")
            assert len(events) <= 1
            if f"s{n}" in written:
                assert len(events) == 1
        # and the store still works
        await store.append("after", [Noted(n=0)], expected_version=NO_STREAM)
