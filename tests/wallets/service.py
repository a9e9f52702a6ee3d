"""A tiny service over the wallets, for the tests that run ``eskit serve``.

``ESKIT_SERVICE=tests.wallets.service:service``. HTTP: ``POST /wallets`` (``owner``,
``balance``), ``POST /wallets/{id}/deposit`` and ``/withdraw`` (``amount``, ``payment_id``),
``GET /wallets/{id}``, ``GET /wallets`` and ``GET /wallets/{id}/events``; reads take
``minPosition``. gRPC: ``tests.wallets.Wallets`` with ``Open``, ``Deposit`` and ``Withdraw``,
whose requests and replies are ``google.protobuf.Struct`` (no generated code): the command's
fields in, ``id``, ``version`` and ``position`` out. The projections are ``wallets_by_id``
and ``wallets_search``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import grpc
import grpc.aio
from fastapi import APIRouter, Query, Request, Response
from google.protobuf.json_format import MessageToDict
from google.protobuf.struct_pb2 import Struct
from pydantic import BaseModel, ConfigDict

from eskit.app import CommandHandler
from eskit.domain import Command
from eskit.errors import NotFoundError
from eskit.grpc import send_command, service_handler, unary
from eskit.http import answer_command
from eskit.projections import wait_for_checkpoint
from eskit.serving import Service, ServiceParts
from eskit.settings import EskitSettings
from eskit.store import EventStoreBackend, TransactionalStore, require_transactions
from tests.wallets.domain import Deposit, OpenWallet, Wallet, Withdraw, build_handler
from tests.wallets.projections import WALLETS, WalletsById, projections

__all__ = ["GRPC_SERVICE", "service"]

GRPC_SERVICE = "tests.wallets.Wallets"

Context = grpc.aio.ServicerContext[Any, Any]
MinPosition = Annotated[int, Query(alias="minPosition", ge=0)]


class NewWallet(BaseModel):
    """A wallet to open."""

    model_config = ConfigDict(extra="forbid")
    owner: str
    balance: int = 0


class Payment(BaseModel):
    """An amount paid under a payment id."""

    model_config = ConfigDict(extra="forbid")
    amount: int
    payment_id: str


def wallets_router(
    store: TransactionalStore, handler: CommandHandler[Wallet], *, timeout_s: float
) -> APIRouter:
    """The HTTP routes over ``store`` and ``handler``."""
    router = APIRouter(prefix="/wallets")

    async def caught_up(position: int) -> None:
        await wait_for_checkpoint(store, WalletsById.name, position, timeout_s=timeout_s)

    @router.post("", status_code=201)
    async def open_wallet(body: NewWallet, request: Request) -> Response:
        command = OpenWallet.parse(body.model_dump())
        return await answer_command(request, handler, command, status_code=201)

    @router.post("/{wallet_id}/deposit")
    async def deposit(wallet_id: str, body: Payment, request: Request) -> Response:
        command = Deposit.parse({"aggregate_id": wallet_id, **body.model_dump()})
        return await answer_command(request, handler, command)

    @router.post("/{wallet_id}/withdraw")
    async def withdraw(wallet_id: str, body: Payment, request: Request) -> Response:
        command = Withdraw.parse({"aggregate_id": wallet_id, **body.model_dump()})
        return await answer_command(request, handler, command)

    @router.get("/{wallet_id}")
    async def get_wallet(wallet_id: str, min_position: MinPosition = 0) -> dict[str, Any]:
        await caught_up(min_position)
        found = await WALLETS.get(store, wallet_id)
        if found is None:
            raise NotFoundError("wallet", wallet_id)
        return found.body

    @router.get("")
    async def list_wallets(min_position: MinPosition = 0) -> dict[str, Any]:
        await caught_up(min_position)
        found = await WALLETS.all(store)
        return {"items": [found[key] for key in sorted(found)], "total": len(found)}

    @router.get("/{wallet_id}/events")
    async def events(wallet_id: str) -> list[dict[str, Any]]:
        records = await store.read_stream(wallet_id)
        if not records:
            raise NotFoundError("wallet", wallet_id)
        return [
            {"version": r.version, "position": r.position, "type": r.event_type, "data": r.data}
            for r in records
        ]

    return router


def wallets_grpc(handler: CommandHandler[Wallet]) -> grpc.GenericRpcHandler:
    """The gRPC methods over ``handler``."""

    def method(command_type: type[Command]) -> Callable[[Struct, Context], Awaitable[Struct]]:
        async def call(request: Struct, context: Context) -> Struct:
            fields = {
                key: int(value) if isinstance(value, float) else value
                for key, value in MessageToDict(request).items()
            }
            result = await send_command(context, handler, command_type.parse(fields))
            reply = Struct()
            reply.update(
                {"id": result.aggregate_id, "version": result.version, "position": result.position}
            )
            return reply

        return call

    methods = {
        "Open": unary(method(OpenWallet), Struct.FromString),
        "Deposit": unary(method(Deposit), Struct.FromString),
        "Withdraw": unary(method(Withdraw), Struct.FromString),
    }
    return service_handler(GRPC_SERVICE, methods)


def _build(store: EventStoreBackend, settings: EskitSettings) -> ServiceParts:
    handler = build_handler(
        store, snapshot_every=settings.snapshot_every, cache_size=settings.aggregate_cache_size
    )
    router = wallets_router(
        require_transactions(store, "wallets"),
        handler,
        timeout_s=settings.consistency_timeout_s,
    )
    return ServiceParts(
        routers=[router], grpc_handlers=[wallets_grpc(handler)], projections=projections()
    )


service = Service(name="wallets", build=_build, title="Wallets")
"""The wallets' service."""
