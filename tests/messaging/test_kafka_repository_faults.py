"""The Kafka repository when things go wrong: no broker at start-up, a broker that stops
answering in the middle of a save, and a second writer on the same topic (in a process of
its own) while the first holds the lease, or after it was killed."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from eskit.errors import StoreUnavailableError
from eskit.messaging.kafka_repository import StaleRepositoryError, WriterLeaseHeldError
from eskit.testing.brokers import KafkaBroker, free_port
from eskit.testing.subprocesses import kill_hard
from tests.messaging.kafka_support import fresh_prefix, members, states
from tests.messaging.members import Join, Rename, member_handler

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]


async def test_no_broker_at_start_up_raises_store_unavailable_within_the_timeout() -> None:
    started = time.monotonic()
    with pytest.raises(StoreUnavailableError, match=r"127\.0\.0\.1"):
        await members(f"127.0.0.1:{free_port()}", fresh_prefix(), timeout_s=2.0).open()
    assert time.monotonic() - started < 5.0


@pytest.fixture
def own_broker() -> Iterator[KafkaBroker]:
    """A broker of the test's own: it is frozen in the middle of a save."""
    with KafkaBroker() as broker:
        yield broker


async def test_a_save_without_acknowledgement_makes_the_repository_refuse_until_restored(
    own_broker: KafkaBroker,
) -> None:
    prefix = fresh_prefix()
    servers = own_broker.bootstrap_servers
    async with members(servers, prefix, timeout_s=1.5) as repository:
        handler = member_handler(repository)
        await handler.handle(Join(aggregate_id="m1", name="ann"))
        own_broker.pause()
        try:
            with pytest.raises(StaleRepositoryError, match="no acknowledgement"):
                await handler.handle(Rename(aggregate_id="m1", name="bob"))
            started = time.monotonic()
            with pytest.raises(StaleRepositoryError, match="restore"):
                await handler.handle(Rename(aggregate_id="m1", name="cid"))
            with pytest.raises(StaleRepositoryError):
                await repository.load("m1")
            assert time.monotonic() - started < 0.5  # refused at once, not after a timeout
        finally:
            own_broker.resume()
        await repository.restore()
        # the save in doubt is settled by now: on the topic and in memory, or in neither
        assert (await repository.load("m1")).name in ("ann", "bob")
        await handler.handle(Rename(aggregate_id="m1", name="dan"))
        held = await states(repository)
    async with members(servers, prefix) as reopened:
        assert await states(reopened) == held
        assert (await reopened.load("m1")).name == "dan"


def start_writer(servers: str, prefix: str, ttl_s: float) -> subprocess.Popen[str]:
    """A process holding the writer lease of ``prefix``'s members; it says ``ready``."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    writer = subprocess.Popen(
        [sys.executable, "-m", "tests.messaging.kafka_writer_process", servers, prefix, str(ttl_s)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert writer.stdout is not None
    if writer.stdout.readline().strip() != "ready":
        kill_hard(writer)
        raise AssertionError("the writer process did not start")
    return writer


async def test_a_second_writer_is_refused_while_the_first_holds_the_lease(
    kafka_broker: KafkaBroker,
) -> None:
    prefix = fresh_prefix()
    servers = kafka_broker.bootstrap_servers
    writer = start_writer(servers, prefix, ttl_s=30.0)
    try:
        with pytest.raises(WriterLeaseHeldError, match=f":{writer.pid}:"):
            await members(servers, prefix).open()
        writer.terminate()  # a clean stop frees the lease
        writer.wait(timeout=10)
        async with members(servers, prefix) as second:
            await member_handler(second).handle(Join(aggregate_id="m1", name="ann"))
            with pytest.raises(WriterLeaseHeldError):  # and now the second holds it
                await members(servers, prefix).open()
    finally:
        kill_hard(writer)


async def test_a_killed_writer_lease_passes_to_the_next_after_its_time_to_live(
    kafka_broker: KafkaBroker,
) -> None:
    prefix = fresh_prefix()
    servers = kafka_broker.bootstrap_servers
    writer = start_writer(servers, prefix, ttl_s=2.0)
    kill_hard(writer)  # no release: the lease has to run out
    killed = time.monotonic()
    with pytest.raises(WriterLeaseHeldError):
        await members(servers, prefix).open()
    while True:
        try:
            async with members(servers, prefix) as successor:
                assert successor.stale is None
                break
        except WriterLeaseHeldError:
            assert time.monotonic() - killed < 6.0
            await asyncio.sleep(0.2)


async def test_of_two_writers_starting_at_once_exactly_one_gets_the_lease(
    kafka_broker: KafkaBroker,
) -> None:
    prefix = fresh_prefix()
    contenders = [members(kafka_broker.bootstrap_servers, prefix) for _ in range(3)]
    outcomes = await asyncio.gather(*(c.open() for c in contenders), return_exceptions=True)
    try:
        refused = [o for o in outcomes if isinstance(o, WriterLeaseHeldError)]
        assert len(refused) == 2, outcomes
    finally:
        for contender in contenders:
            await contender.close()
