"""``eskit.grpc.send_command``, through a real gRPC server: the call's request id and API key
become the events' metadata, and idempotency keys are scoped to the caller, the method and
the target, as over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct

from eskit.app.metadata import api_key_actor
from eskit.grpc import ERROR_CODE_KEY
from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend
from tests.wallets.service import GRPC_SERVICE, service

pytestmark = pytest.mark.integration


class Wallets:
    """A client of the wallets' gRPC methods: Struct in, Struct out, as dicts."""

    def __init__(self, channel: grpc.aio.Channel, **metadata: str) -> None:
        self.channel = channel
        self.metadata = metadata

    async def call(self, method: str, key: str | None = None, **fields: Any) -> dict[str, Any]:
        stub = self.channel.unary_unary(
            f"/{GRPC_SERVICE}/{method}",
            request_serializer=Struct.SerializeToString,
            response_deserializer=Struct.FromString,
        )
        request = Struct()
        request.update(fields)
        metadata = {**self.metadata, **({"idempotency-key": key} if key else {})}
        reply = await stub(request, metadata=tuple(metadata.items()), timeout=10)
        return {k: int(v) if isinstance(v, float) else v for k, v in MessageToDict(reply).items()}


@pytest.fixture
async def runtime(sql_store: EventStoreBackend) -> AsyncIterator[ServiceRuntime]:
    settings = EskitSettings(database_url="memory://", api_keys=("k1",))
    async with AsyncExitStack() as stack:
        yield await stack.enter_async_context(
            ServiceRuntime(service, sql_store, settings, grpc_address="127.0.0.1:0", grace_s=1)
        )


@pytest.fixture
async def wallets(runtime: ServiceRuntime) -> AsyncIterator[Wallets]:
    async with grpc.aio.insecure_channel(f"127.0.0.1:{runtime.grpc_port}") as channel:
        yield Wallets(channel, authorization="Bearer k1")


async def test_the_request_id_and_the_api_key_become_the_events_metadata(
    runtime: ServiceRuntime, wallets: Wallets
) -> None:
    wallets.metadata["x-request-id"] = "req-42"

    opened = await wallets.call("Open", owner="Ann", balance=5)

    (event,) = await runtime.store.read_stream(opened["id"])
    assert event.metadata["correlation_id"] == "req-42"
    assert event.metadata["actor"] == api_key_actor("k1")
    assert (opened["version"], opened["position"]) == (1, event.position)


async def test_a_retried_opening_with_a_key_answers_the_first_outcome(
    runtime: ServiceRuntime, wallets: Wallets
) -> None:
    first = await wallets.call("Open", key="open-1", owner="Ann")
    again = await wallets.call("Open", key="open-1", owner="Ann")

    assert again == first
    assert len(await runtime.store.list_streams()) == 1


async def test_a_key_is_scoped_to_the_method_and_the_target(wallets: Wallets) -> None:
    one = (await wallets.call("Open", owner="Ann", balance=100))["id"]
    two = (await wallets.call("Open", owner="Bob", balance=100))["id"]

    paid = await wallets.call("Deposit", key="k", aggregate_id=one, amount=5, payment_id="p")
    taken = await wallets.call("Withdraw", key="k", aggregate_id=one, amount=5, payment_id="q")
    elsewhere = await wallets.call("Deposit", key="k", aggregate_id=two, amount=5, payment_id="p")
    retried = await wallets.call("Deposit", key="k", aggregate_id=one, amount=5, payment_id="p")

    assert (paid["version"], taken["version"], elsewhere["version"]) == (2, 3, 2)
    assert retried == paid


async def test_a_key_reused_for_another_request_is_an_invalid_argument(wallets: Wallets) -> None:
    wallet = (await wallets.call("Open", owner="Ann"))["id"]
    await wallets.call("Deposit", key="k", aggregate_id=wallet, amount=5, payment_id="p")

    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await wallets.call("Deposit", key="k", aggregate_id=wallet, amount=6, payment_id="p")

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    codes = dict(caught.value.trailing_metadata() or ())
    assert codes[ERROR_CODE_KEY] == "idempotency_key_reused"
