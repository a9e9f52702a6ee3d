"""Fault injection on PostgreSQL: the global order stays trustworthy under late commits.

Raw psycopg transactions insert events the way the store does (position = xid << 16 plus
the ordinal) and are held open, rolled back or delayed at will, while the store appends in
other transactions and a reader follows the log with ``read_batch(after=checkpoint)``.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import psycopg
import pytest

from eskit.domain.events import Event
from eskit.errors import DuplicateEventError
from eskit.store import NO_STREAM, NewEvent, ReadHorizon, StoredEvent
from eskit.store.postgres import PostgresEventStore
from eskit.testing.postgres import PostgresServer

pytestmark = pytest.mark.integration

Connect = Callable[..., Awaitable[psycopg.AsyncConnection[Any]]]

RAW_INSERT = """
INSERT INTO eskit_events (position, stream_id, stream_type, version, event_id, event_type,
                          schema_version, data, metadata, recorded_at)
VALUES ((pg_current_xact_id()::text::bigint << 16) + %(ordinal)s, %(stream)s, 'raw',
        %(version)s, %(event_id)s, 'RawInserted', 1, %(data)s::jsonb, '{}'::jsonb, now())
RETURNING position
"""


class Appended(Event):
    n: int


@pytest.fixture
async def store(postgres_url: str) -> AsyncIterator[PostgresEventStore]:
    async with PostgresEventStore.open(postgres_url) as pg_store:
        yield pg_store


@pytest.fixture
async def connect(postgres_url: str) -> AsyncIterator[Connect]:
    """Opens raw connections (not autocommit: the first statement begins a transaction)."""
    opened: list[psycopg.AsyncConnection[Any]] = []

    async def open_connection(url: str = postgres_url) -> psycopg.AsyncConnection[Any]:
        conn = await psycopg.AsyncConnection.connect(url)
        opened.append(conn)
        return conn

    yield open_connection
    for conn in opened:
        await conn.close()


async def raw_insert(
    conn: psycopg.AsyncConnection[Any],
    stream: str,
    version: int = 1,
    ordinal: int = 1,
    event_id: uuid.UUID | None = None,
) -> tuple[uuid.UUID, int]:
    """Insert one event in ``conn``'s open transaction; returns its id and position."""
    event_id = event_id or uuid.uuid4()
    cur = await conn.execute(
        RAW_INSERT,
        {
            "ordinal": ordinal,
            "stream": stream,
            "version": version,
            "event_id": event_id,
            "data": f'{{"stream": "{stream}", "version": {version}}}',
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return event_id, int(row[0])


async def append(store: PostgresEventStore, stream: str, n: int = 0) -> StoredEvent:
    """Append one event to a new stream (its own transaction) and return it as stored."""
    event = NewEvent(Appended(n=n))
    await store.append(stream, [event], expected_version=NO_STREAM)
    (stored,) = await store.find_events([event.event_id])
    return stored


async def drain(store: PostgresEventStore, after: int, limit: int = 2) -> list[StoredEvent]:
    """Everything a checkpointing reader gets now, continuing after ``after``."""
    out: list[StoredEvent] = []
    while batch := await store.read_batch(after=after, limit=limit):
        out.extend(batch)
        after = batch[-1].position
    return out


def ids(events: list[StoredEvent]) -> list[uuid.UUID]:
    return [e.event_id for e in events]


# -- a delayed commit ---------------------------------------------------------------


async def test_reader_does_not_pass_a_delayed_commit_with_a_lower_position(
    store: PostgresEventStore, connect: Connect
) -> None:
    first = await append(store, "before")
    delayed = await connect()
    _, delayed_position = await raw_insert(delayed, "delayed")
    later = [await append(store, f"later-{i}", i) for i in range(3)]
    assert all(e.position > delayed_position for e in later)  # committed, higher positions

    assert await drain(store, after=0) == [first]
    assert await store.last_position() == first.position


async def test_read_horizon_counts_events_held_back_and_names_the_delayed_transaction(
    store: PostgresEventStore, connect: Connect
) -> None:
    first = await append(store, "before")
    delayed = await connect()
    await raw_insert(delayed, "delayed")
    for i in range(3):
        await append(store, f"later-{i}", i)

    horizon = await store.read_horizon()

    assert horizon.position == first.position
    assert horizon.pending_events == 3
    (blocker,) = horizon.blockers
    assert blocker.pid == delayed.info.backend_pid
    assert blocker.age_s is not None
    assert blocker.age_s > 0
    assert blocker.state == "idle in transaction"
    assert blocker.query is not None
    assert "INSERT INTO eskit_events" in blocker.query


async def test_reader_gets_a_delayed_commit_then_the_later_events_once_each_in_order(
    store: PostgresEventStore, connect: Connect
) -> None:
    first = await append(store, "before")
    checkpoint = (await drain(store, after=0))[-1].position
    delayed = await connect()
    delayed_id, delayed_position = await raw_insert(delayed, "delayed")
    later = [await append(store, f"later-{i}", i) for i in range(3)]
    assert await drain(store, after=checkpoint) == []

    await delayed.commit()

    caught_up = await drain(store, after=checkpoint, limit=2)
    assert ids(caught_up) == [delayed_id, *ids(later)]
    assert caught_up[0].position == delayed_position
    positions = [first.position] + [e.position for e in caught_up]
    assert positions == sorted(set(positions))
    assert await store.read_horizon() == ReadHorizon(position=later[-1].position)


# -- a rolled-back append -------------------------------------------------------------


async def test_rolled_back_append_leaves_a_hole_that_readers_continue_past(
    store: PostgresEventStore, connect: Connect
) -> None:
    first = await append(store, "a")
    doomed = await connect()
    doomed_id, hole = await raw_insert(doomed, "doomed")
    second = await append(store, "b")
    assert first.position < hole < second.position
    checkpoint = (await drain(store, after=0))[-1].position
    assert checkpoint == first.position  # held back while the doomed append may still commit

    await doomed.rollback()

    assert ids(await drain(store, after=checkpoint)) == [second.event_id]
    assert ids(await drain(store, after=0)) == [first.event_id, second.event_id]
    assert await store.find_events([doomed_id]) == []


async def test_failed_store_append_leaves_a_hole_that_readers_continue_past(
    store: PostgresEventStore,
) -> None:
    first = await append(store, "a")
    clash = NewEvent(Appended(n=0))
    taken = await store.append("taken", [clash], expected_version=NO_STREAM)
    with pytest.raises(DuplicateEventError):
        await store.append("c", [NewEvent(Appended(n=1)), clash], expected_version=NO_STREAM)
    second = await append(store, "b")
    assert second.position >> 16 > (taken.position >> 16) + 1  # a transaction id was skipped

    events = await drain(store, after=first.position, limit=1)

    assert [e.stream_id for e in events] == ["taken", "b"]
    assert events[-1] == second


# -- long transactions ----------------------------------------------------------------


async def test_long_writing_transaction_holds_readers_back_and_read_horizon_names_it(
    store: PostgresEventStore, connect: Connect
) -> None:
    long = await connect()
    # writes something other than an event: it gets a transaction id all the same
    await long.execute(
        "INSERT INTO eskit_snapshots (stream_id, stream_type, version, schema_version, state) "
        "VALUES ('s', 't', 1, 1, '{}')"
    )
    cur = await long.execute("SELECT pg_current_xact_id_if_assigned() IS NOT NULL")
    assert await cur.fetchone() == (True,)
    appended = [await append(store, f"s-{i}", i) for i in range(2)]

    horizon = await store.read_horizon()

    assert await store.read_batch() == []
    assert horizon.pending_events == len(appended)
    assert horizon.position == 0
    (blocker,) = horizon.blockers
    assert blocker.pid == long.info.backend_pid
    assert blocker.state == "idle in transaction"
    assert blocker.age_s is not None
    assert blocker.age_s > 0


async def test_readers_catch_up_once_a_long_transaction_ends(
    store: PostgresEventStore, connect: Connect
) -> None:
    long = await connect()
    await long.execute(
        "INSERT INTO eskit_snapshots (stream_id, stream_type, version, schema_version, state) "
        "VALUES ('s', 't', 1, 1, '{}')"
    )
    appended = [await append(store, f"s-{i}", i) for i in range(3)]
    assert await store.read_batch() == []

    await long.rollback()

    assert await drain(store, after=0) == appended
    horizon = await store.read_horizon()
    assert (horizon.position, horizon.pending_events, horizon.blockers) == (
        appended[-1].position,
        0,
        (),
    )


async def test_read_horizon_lists_several_blockers_oldest_first(
    store: PostgresEventStore, connect: Connect
) -> None:
    older, newer = await connect(), await connect()
    await raw_insert(older, "older")
    await raw_insert(newer, "newer")
    await append(store, "committed")

    horizon = await store.read_horizon()

    assert [b.pid for b in horizon.blockers] == [older.info.backend_pid, newer.info.backend_pid]
    assert horizon.pending_events == 1


async def test_blocker_that_ended_is_no_longer_named(
    store: PostgresEventStore, connect: Connect
) -> None:
    older, newer = await connect(), await connect()
    await raw_insert(older, "older")
    _, newer_position = await raw_insert(newer, "newer")
    await append(store, "committed")

    await older.commit()

    horizon = await store.read_horizon()
    assert [b.pid for b in horizon.blockers] == [newer.info.backend_pid]
    assert horizon.position < newer_position
    assert [e.stream_id for e in await drain(store, after=0)] == ["older"]


@pytest.mark.parametrize(
    "isolation",
    [psycopg.IsolationLevel.READ_COMMITTED, psycopg.IsolationLevel.REPEATABLE_READ],
    ids=["read-committed", "repeatable-read"],
)
async def test_transaction_that_only_reads_does_not_hold_readers_back(
    store: PostgresEventStore, connect: Connect, isolation: psycopg.IsolationLevel
) -> None:
    reading = await connect()
    await reading.set_isolation_level(isolation)
    await reading.execute("SELECT count(*) FROM eskit_events")
    cur = await reading.execute("SELECT pg_current_xact_id_if_assigned() IS NULL")
    assert await cur.fetchone() == (True,)  # open, but with no transaction id
    appended = [await append(store, f"s-{i}", i) for i in range(3)]

    assert await drain(store, after=0) == appended
    horizon = await store.read_horizon()
    assert (horizon.pending_events, horizon.blockers) == (0, ())


async def test_writing_transaction_in_another_database_holds_readers_back(
    store: PostgresEventStore, connect: Connect, postgres_server: PostgresServer
) -> None:
    # transaction ids are shared by the whole server, so are the snapshots' xmin
    elsewhere = await connect(postgres_server.url)
    await elsewhere.execute("CREATE TEMP TABLE scratch (x int)")
    await elsewhere.execute("INSERT INTO scratch VALUES (1)")
    appended = await append(store, "s")

    horizon = await store.read_horizon()

    assert await store.read_batch() == []
    assert [(b.pid, b.database) for b in horizon.blockers] == [
        (elsewhere.info.backend_pid, elsewhere.info.dbname)
    ]
    await elsewhere.rollback()
    assert await store.read_batch() == [appended]


# -- listing streams ----------------------------------------------------------------


async def test_list_streams_paging_does_not_skip_a_stream_whose_creation_commits_late(
    store: PostgresEventStore, connect: Connect
) -> None:
    await append(store, "s0")
    late = await connect()
    await raw_insert(late, "late")
    await append(store, "s1")
    await append(store, "s2")
    listed: list[str] = []
    page = await store.list_streams(limit=10)
    listed += [s.stream_id for s in page]
    after = (await store.read_stream(page[-1].stream_id, to_version=1))[0].position

    await late.commit()

    listed += [s.stream_id for s in await store.list_streams(limit=10, after=after)]
    assert sorted(listed) == ["late", "s0", "s1", "s2"]


# -- many writers with random commit delays -------------------------------------------


async def test_reader_misses_nothing_and_repeats_nothing_under_random_commit_delays(
    store: PostgresEventStore, connect: Connect
) -> None:
    writers, rounds = 8, 12
    rng = random.Random(20240611)
    deadline = time.monotonic() + 30.0
    committed: dict[uuid.UUID, int] = {}
    rolled_back: set[uuid.UUID] = set()
    writers_done = asyncio.Event()
    connections = [await connect() for _ in range(writers)]

    async def writer(w: int) -> None:
        conn, version = connections[w], 0
        for _ in range(rounds):
            count = rng.randint(1, 3)
            inserted = [
                await raw_insert(conn, f"w{w}", version + i + 1, ordinal=i + 1)
                for i in range(count)
            ]
            await asyncio.sleep(rng.uniform(0, 0.05))  # the fault: a slow commit
            if rng.random() < 0.15:
                await conn.rollback()
                rolled_back.update(event_id for event_id, _ in inserted)
            else:
                await conn.commit()
                committed.update(inserted)
                version += count

    async def store_writer() -> None:
        for i in range(rounds * 2):
            await append(store, f"store-{i}", i)
            await asyncio.sleep(rng.uniform(0, 0.01))

    seen: list[StoredEvent] = []

    async def reader() -> None:
        checkpoint = 0
        while True:
            assert time.monotonic() < deadline, "reader never caught up"
            finished = writers_done.is_set()
            batch = await store.read_batch(after=checkpoint, limit=rng.randint(1, 5))
            if batch:
                seen.extend(batch)
                checkpoint = batch[-1].position
            elif finished:
                return
            else:
                await asyncio.sleep(0.001)

    async def write_all() -> None:
        await asyncio.gather(store_writer(), *(writer(w) for w in range(writers)))
        writers_done.set()

    await asyncio.gather(reader(), write_all())

    raw_seen = [e for e in seen if e.stream_type == "raw"]
    assert len({e.event_id for e in seen}) == len(seen)  # nothing twice
    assert {e.event_id: e.position for e in raw_seen} == committed  # nothing missed
    assert not rolled_back & {e.event_id for e in seen}
    assert sum(e.stream_type != "raw" for e in seen) == rounds * 2
    assert [e.position for e in seen] == sorted(e.position for e in seen)
    assert ids(seen) == ids([e async for e in store.read_all()])
    assert rolled_back  # the scenario did include holes
