"""One trace follows a deposit from its HTTP request into its append, the projections that
read it, the relay that publishes it and the consumer that applies it off a real broker."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from bank_accounts.activity import activity_consumer
from bank_accounts.service import service
from bank_accounts.tests.grpc_client import BankAccountsClient
from bank_accounts.tests.support import deposit, http_client, open_account
from eskit.messaging import Topology
from eskit.messaging.consumer import ConsumerRunner
from eskit.messaging.nats_bus import JetStreamBus
from eskit.messaging.relay import Relay
from eskit.projections import ProjectionRunner
from eskit.serving import ServiceRuntime
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, require_transactions
from eskit.testing.brokers import NatsServer
from eskit.testing.tracing import SpanTree, capture_spans

pytestmark = pytest.mark.integration


async def _eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


@pytest.fixture
async def bus(nats_server: NatsServer) -> AsyncIterator[JetStreamBus]:
    bus = JetStreamBus(nats_server.url, Topology(prefix=f"t{uuid.uuid4().hex[:12]}"))
    try:
        yield bus
    finally:
        await bus.close()


async def test_a_deposit_is_one_trace_from_request_to_consumer(
    sql_store: EventStoreBackend, bus: JetStreamBus
) -> None:
    store = require_transactions(sql_store, "tracing")
    settings = EskitSettings(database_url="memory://")
    with capture_spans() as exporter:
        relay = Relay(store, bus)
        consumer = ConsumerRunner(store, bus, activity_consumer())
        stop = asyncio.Event()
        async with ServiceRuntime(service, store, settings, grpc_address=None) as runtime:
            consuming = asyncio.create_task(consumer.run(stop))
            try:
                async with http_client(runtime) as http:
                    # one event per step, so that each batch belongs to one trace
                    opened = await open_account(http)
                    await _settle(runtime, relay, consumer, 1)
                    response = await deposit(http, opened["id"], 250)
                    assert response.status_code == 200, response.text
                    await _settle(runtime, relay, consumer, 2)
            finally:
                stop.set()
                await consuming
        spans = list(exporter.get_finished_spans())

    tree = SpanTree.of(spans, "command DepositMoney")
    request = tree.root()
    assert request.kind is SpanKind.SERVER
    assert request.attributes is not None
    assert request.attributes.get("http.route") == "/api/v1/accounts/{account_id}/deposit"
    command = tree.one("command DepositMoney")
    assert tree.parent_of(command) is request
    assert command.attributes is not None
    assert command.attributes["eskit.outcome"] == "ok"
    assert command.attributes["eskit.aggregate.id"] == opened["id"]
    assert command.attributes["eskit.version"] == 2
    # the account was just saved: its handler decides on the cached aggregate, no load
    assert not tree.named("load")
    for step in ("decide", "append"):
        assert tree.parent_of(tree.one(step)) is command, step
    projected = tree.named("project ")
    assert projected, tree.names()
    assert all(tree.parent_of(s) is command for s in projected)
    publish = tree.one("publish")
    assert publish.kind is SpanKind.PRODUCER
    assert tree.parent_of(publish) is command
    consume = tree.one("consume bank_accounts_activity")
    assert consume.kind is SpanKind.CONSUMER
    assert tree.parent_of(consume) is command
    assert all(s.status.status_code is not StatusCode.ERROR for s in tree.spans)
    # the account's opening is a trace of its own: traces do not run into each other
    opening = SpanTree.of(spans, "command OpenAccount")
    assert opening.root() is not request
    assert len(opening.named("project ")) == len(projected)


async def _settle(
    runtime: ServiceRuntime, relay: Relay, consumer: ConsumerRunner, handled: int
) -> None:
    """Projections caught up, the relay's page published and the consumer past it."""
    assert runtime.runner is not None
    await runtime.runner.wait_for(position=await runtime.store.last_position())
    while await relay.step():
        pass

    async def consumed() -> bool:
        return consumer.handled >= handled

    await _eventually(consumed)


async def test_a_batch_of_several_traces_links_to_each(sql_store: EventStoreBackend) -> None:
    store = require_transactions(sql_store, "tracing")
    settings = EskitSettings(database_url="memory://", run_projections=False)
    with capture_spans() as exporter:
        runtime = ServiceRuntime(service, store, settings, grpc_address=None)
        async with runtime, http_client(runtime) as http:
            opened = [await open_account(http) for _ in range(3)]
        # the projections were not running: one batch now reads all three accounts
        await ProjectionRunner(store, list(runtime.parts.projections)).catch_up()
        spans = list(exporter.get_finished_spans())

    commands = [s for s in spans if s.name == "command OpenAccount"]
    assert len(commands) == 3
    batches = [s for s in spans if s.name.startswith("project ")]
    assert batches
    for batch in batches:
        linked = {link.context.trace_id for link in batch.links}
        assert linked == {_trace_id(s) for s in commands}, batch.name
        assert batch.parent is None or _trace_id(batch) not in linked
    assert len({o["id"] for o in opened}) == 3


def _trace_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.trace_id)


async def test_a_grpc_call_is_the_parent_of_its_command(sql_store: EventStoreBackend) -> None:
    settings = EskitSettings(database_url="memory://", run_projections=False)
    with capture_spans() as exporter:
        runtime = ServiceRuntime(service, sql_store, settings, grpc_address="127.0.0.1:0")
        async with runtime, grpc.aio.insecure_channel(f"127.0.0.1:{runtime.grpc_port}") as channel:
            reply = await BankAccountsClient(channel).open(balance=10)
        spans = list(exporter.get_finished_spans())

    tree = SpanTree.of(spans, "command OpenAccount")
    call = tree.root()
    assert call.kind is SpanKind.SERVER
    assert call.name == "/eskit.bank_accounts.v1.BankAccountService/CreateAccount"
    assert tree.parent_of(tree.one("command OpenAccount")) is call
    assert tree.one("command OpenAccount").attributes["eskit.aggregate.id"] == reply.id  # type: ignore[index]
