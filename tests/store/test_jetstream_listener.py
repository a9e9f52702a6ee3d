"""The JetStream store's commit listener: appends made through another store object, or
by another process, fire this store's ``appended`` signal."""

import asyncio
import sys
from pathlib import Path

import pytest

from eskit.domain import Event
from eskit.errors import StoreUnavailableError
from eskit.store import ANY, NO_STREAM
from eskit.store.commits import AppendSignal
from eskit.store.jetstream import JetStreamEventStore
from eskit.testing.brokers import NatsServer
from eskit.testing.jetstream import fresh_jetstream_store

pytestmark = pytest.mark.integration

WRITER = Path(__file__).with_name("jetstream_writer.py")


class Noted(Event):
    n: int


async def heard_up_to(signal: AppendSignal, position: int, timeout_s: float = 5.0) -> None:
    """Wait until ``signal`` has fired for ``position``."""
    async with asyncio.timeout(timeout_s):
        while signal.position < position:
            await signal.wait(signal.generation, timeout_s)


async def test_an_append_through_another_store_object_fires_this_stores_signal(
    nats_server: NatsServer,
) -> None:
    async with fresh_jetstream_store(nats_server.url) as store:
        listener = store.commit_listener()
        assert listener is not None
        await listener.start()
        try:
            assert listener.connected, listener.last_error
            async with JetStreamEventStore.open(
                nats_server.url, name=store.names.name, migrate=False
            ) as other:
                before = store.appended.generation
                result = await other.append(
                    "s", [Noted(n=1), Noted(n=2)], expected_version=NO_STREAM
                )
                await heard_up_to(store.appended, result.position)
        finally:
            await listener.stop()
    assert store.appended.position == result.position
    assert store.appended.generation > before
    assert not listener.connected


async def test_an_append_by_another_process_fires_this_stores_signal(
    nats_server: NatsServer,
) -> None:
    async with fresh_jetstream_store(nats_server.url) as store:
        listener = store.commit_listener()
        assert listener is not None
        await listener.start()
        try:
            writer = await asyncio.create_subprocess_exec(
                sys.executable,
                str(WRITER),
                nats_server.url,
                store.names.name,
                "p",
                "1",
                "3",
                "s",
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.PIPE,
            )
            _, err = await writer.communicate()
            assert writer.returncode == 0, err.decode()[-2000:]
            assert await store.stream_version("s") >= 3
            await heard_up_to(store.appended, await store.last_position())
        finally:
            await listener.stop()


async def test_the_listener_hears_again_soon_after_its_server_restarts(tmp_path: Path) -> None:
    with NatsServer(store_dir=tmp_path / "nats") as server:
        async with (
            JetStreamEventStore.open(server.url, name="heard") as store,
            JetStreamEventStore.open(server.url, name="heard", migrate=False) as other,
        ):
            listener = store.commit_listener()
            assert listener is not None
            await listener.start()
            try:
                server.kill()
                server.start()
                while True:  # until the writer is connected again
                    try:
                        result = await other.append("s", [Noted(n=1)], expected_version=ANY)
                        break
                    except StoreUnavailableError:
                        await asyncio.sleep(0.05)
                # the listener's consumer died with the server; nothing but missed
                # heartbeats says so, and it must be made again within seconds
                await heard_up_to(store.appended, result.position, timeout_s=9.0)
            finally:
                await listener.stop()
