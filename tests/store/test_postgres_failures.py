"""Broken connections: a clear error, nothing lost, nothing written twice."""

from urllib.parse import urlsplit

import psycopg
import pytest

from eskit.domain import Event
from eskit.errors import StoreUnavailableError
from eskit.store import NO_STREAM, NewEvent
from eskit.store.postgres import PostgresEventStore

pytestmark = pytest.mark.integration


class Noted(Event):
    n: int


async def test_an_unreachable_server_raises_store_unavailable() -> None:
    store = PostgresEventStore(
        "postgresql://postgres@/postgres?host=/nonexistent-eskit-socket", connect_timeout_s=2
    )
    with pytest.raises(StoreUnavailableError, match="cannot connect"):
        await store.start()


def kill_backends(admin_url: str, database_url: str) -> int:
    name = urlsplit(database_url).path.lstrip("/")
    with psycopg.connect(admin_url, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


async def test_appends_survive_killed_connections_without_loss_or_duplicates(
    postgres_url: str, postgres_server: object
) -> None:
    admin_url = postgres_server.url  # type: ignore[attr-defined]
    async with PostgresEventStore.open(postgres_url, max_connections=2) as store:
        await store.append("s", [Noted(n=0)], expected_version=NO_STREAM)
        assert kill_backends(admin_url, postgres_url) >= 1
        result = await store.append("s", [Noted(n=1)], expected_version=1)
        assert result.version == 2
        events = await store.read_stream("s")
        assert [e.data["n"] for e in events] == [0, 1]


async def test_a_store_that_cannot_reconnect_says_so(
    postgres_url: str, postgres_server: object
) -> None:
    admin_url = postgres_server.url  # type: ignore[attr-defined]
    async with PostgresEventStore.open(
        postgres_url, max_connections=1, reconnect_attempts=0
    ) as store:
        await store.append("s", [Noted(n=0)], expected_version=NO_STREAM)
        kill_backends(admin_url, postgres_url)
        with pytest.raises(StoreUnavailableError):
            await store.read_stream("s")
        assert len(await store.read_stream("s")) == 1  # the pool replaced the dead connection


async def test_a_retried_append_with_the_same_ids_is_written_once(postgres_url: str) -> None:
    async with PostgresEventStore.open(postgres_url) as store:
        batch = [NewEvent(Noted(n=1)), NewEvent(Noted(n=2))]
        first = await store.append("s", batch, expected_version=NO_STREAM)
        # the client never heard the answer and sends the same append again
        again = await store.append("s", batch, expected_version=NO_STREAM)
        assert again.deduplicated
        assert (again.version, again.position) == (first.version, first.position)
        assert await store.stream_version("s") == 2
