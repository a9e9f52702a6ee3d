"""A gRPC call's request id is in the log context while its method runs, and is the one
``call_info`` answers (the events' correlation id)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import grpc
import grpc.aio
import pytest
from google.protobuf.struct_pb2 import Struct

from eskit.grpc import call_info, create_server, service_handler, unary
from eskit.logcontext import context_fields
from eskit.observability.logs import ContextFilter

pytestmark = pytest.mark.integration

SERVICE = "tests.LogContext"
log = logging.getLogger("tests.grpc.log_context")


async def echo(request: Struct, context: grpc.aio.ServicerContext[Any, Any]) -> Struct:
    log.warning("handling")
    reply = Struct()
    reply.update(
        {"info": call_info(context).request_id, "bound": context_fields().get("request_id", "")}
    )
    return reply


@pytest.fixture
async def channel() -> AsyncIterator[grpc.aio.Channel]:
    server = create_server([service_handler(SERVICE, {"Echo": unary(echo, Struct.FromString)})])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as opened:
            yield opened
    finally:
        await server.stop(0)


async def call(channel: grpc.aio.Channel, *metadata: tuple[str, str]) -> dict[str, Any]:
    stub = channel.unary_unary(
        f"/{SERVICE}/Echo",
        request_serializer=Struct.SerializeToString,
        response_deserializer=Struct.FromString,
    )
    reply = await stub(Struct(), metadata=metadata, timeout=10)
    return dict(reply.items())


async def test_the_callers_request_id_is_bound_while_the_method_runs(
    channel: grpc.aio.Channel, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.handler.addFilter(ContextFilter())
    answer = await call(channel, ("x-request-id", "req-7"))
    assert answer == {"info": "req-7", "bound": "req-7"}
    [record] = [r for r in caplog.records if r.name == log.name]
    assert getattr(record, "request_id", None) == "req-7"


async def test_a_generated_request_id_is_the_same_in_the_log_and_in_call_info(
    channel: grpc.aio.Channel,
) -> None:
    answer = await call(channel)
    assert answer["bound"]
    assert answer["info"] == answer["bound"]
