"""The invoice-financing HTTP API (``/api/v1``): commands answer 202 through the queue,
queries read the read models.

Every command route queues its command and answers ``202 Accepted`` with ``commandId``,
``aggregateId`` and ``statusUrl`` (``GET /api/v1/commands/{id}``): ``done`` there gives the
``position`` to pass as ``minPosition`` to a query to read the command's effect. A full
queue answers 429 with ``Retry-After``. Field names are camelCase; money is integer minor
units and an ISO currency.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from eskit.domain import uuid7
from eskit.http import JsonBodyRoute
from eskit.http.openapi import query_route
from eskit.http.queue import ACCEPT_RESPONSES, accept_command, command_queue_router
from invoice_financing.app import InvoiceFinancing, public_id
from invoice_financing.financing.commands import (
    BidOnInvoice,
    DepositFunds,
    PutInvoiceForSale,
    WithdrawFunds,
)
from invoice_financing.financing.domain import InvoiceStatus
from invoice_financing.registering.commands import RegisterInvestor, RegisterIssuer

__all__ = ["PREFIX", "PUBLIC_COMMANDS", "financing_routers"]

PREFIX = "/api/v1"
PUBLIC_COMMANDS = (
    RegisterIssuer,
    RegisterInvestor,
    DepositFunds,
    WithdrawFunds,
    PutInvoiceForSale,
    BidOnInvoice,
)
"""What clients may send (``POST /api/v1/commands`` by ``"type"`` too). The rest are the
sagas' and the registration consumer's: nobody outside may finance an invoice directly."""
INT64_MAX = 2**63 - 1

Id = Annotated[str, Path(min_length=1, max_length=200)]
MinPosition = Annotated[
    int | None,
    Query(
        alias="minPosition",
        ge=0,
        le=INT64_MAX,
        description="Wait until the read model has handled this position",
    ),
]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]


class _Body(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="forbid")


class NewParticipant(_Body):
    """An issuer or investor signing up."""

    name: str


class Funds(_Body):
    """An amount in minor units and its currency."""

    amount: int
    currency: str


class NewInvoice(_Body):
    """An invoice put up for sale by its issuer."""

    issuer_id: str
    amount: int
    currency: str
    due_date: date


class NewBid(_Body):
    """An investor's bid on an invoice: the invoice's whole amount, in its currency."""

    investor_id: str
    amount: int
    currency: str
    bid_id: uuid.UUID = Field(default_factory=uuid7)


class Page(BaseModel):
    """One page of items and how many match in all."""

    items: list[dict[str, Any]]
    total: int
    limit: int
    offset: int
    has_more: bool = Field(serialization_alias="hasMore")


def _page(found: Any) -> Page:
    return Page(
        items=[_camel(row) for row in found.items],
        total=found.total,
        limit=found.limit,
        offset=found.offset,
        has_more=found.has_more,
    )


def _camel(row: dict[str, Any]) -> dict[str, Any]:
    return {to_camel(key): value for key, value in row.items()}


def financing_routers(app: InvoiceFinancing) -> list[APIRouter]:
    """The command routes, the queue's status routes and the query routes over ``app``."""
    commands = APIRouter(prefix=PREFIX, tags=["commands"], route_class=JsonBodyRoute)
    queue = app.queue

    async def accept(request: Request, command: Any, **extra: Any) -> Response:
        return await accept_command(
            request, queue, command, prefix=PREFIX, public_id=public_id, extra=extra or None
        )

    @commands.post("/issuers", status_code=202, responses=ACCEPT_RESPONSES)
    async def register_issuer(body: NewParticipant, request: Request) -> Response:
        """Sign an issuer up; ``aggregateId`` is its id."""
        return await accept(request, RegisterIssuer.parse({"name": body.name}))

    @commands.post("/investors", status_code=202, responses=ACCEPT_RESPONSES)
    async def register_investor(body: NewParticipant, request: Request) -> Response:
        """Sign an investor up; ``aggregateId`` is its id (its account opens once Financing
        hears of it)."""
        return await accept(request, RegisterInvestor.parse({"name": body.name}))

    @commands.post("/investors/{investor_id}/deposits", status_code=202, responses=ACCEPT_RESPONSES)
    async def deposit(investor_id: Id, body: Funds, request: Request) -> Response:
        """Pay funds into an investor's account."""
        command = DepositFunds.parse({"aggregate_id": investor_id, **body.model_dump()})
        return await accept(request, command)

    @commands.post(
        "/investors/{investor_id}/withdrawals", status_code=202, responses=ACCEPT_RESPONSES
    )
    async def withdraw(investor_id: Id, body: Funds, request: Request) -> Response:
        """Pay available funds out of an investor's account."""
        command = WithdrawFunds.parse({"aggregate_id": investor_id, **body.model_dump()})
        return await accept(request, command)

    @commands.post("/invoices", status_code=202, responses=ACCEPT_RESPONSES)
    async def put_for_sale(body: NewInvoice, request: Request) -> Response:
        """Put an issuer's invoice up for sale; ``aggregateId`` is the invoice's id."""
        return await accept(request, PutInvoiceForSale.parse(body.model_dump()))

    @commands.post("/invoices/{invoice_id}/bids", status_code=202, responses=ACCEPT_RESPONSES)
    async def bid(invoice_id: Id, body: NewBid, request: Request) -> Response:
        """Bid on an invoice: the investor's funds are reserved, then the invoice financed by
        this bid or the reservation released (``GET /bids/{bidId}`` says which, and why)."""
        command = BidOnInvoice.parse(
            {
                "aggregate_id": body.investor_id,
                "invoice_id": invoice_id,
                "amount": body.amount,
                "currency": body.currency,
                "bid_id": body.bid_id,
            }
        )
        return await accept(request, command, bidId=str(command.bid_id))

    status = command_queue_router(
        queue, prefix=PREFIX, submittable=PUBLIC_COMMANDS, public_id=public_id
    )
    return [commands, status, _queries(app)]


def _queries(app: InvoiceFinancing) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["queries"])
    queries = app.queries

    @router.get("/invoices", response_model=Page, **query_route())
    async def list_invoices(
        status: Annotated[InvoiceStatus | None, Query()] = None,
        issuer_id: Annotated[str | None, Query(alias="issuerId", max_length=200)] = None,
        limit: Limit = 20,
        offset: Offset = 0,
        min_position: MinPosition = None,
    ) -> Page:
        """Invoices by status and/or issuer, soonest due first."""
        found = await queries.list_invoices(
            status=status,
            issuer_id=issuer_id,
            limit=limit,
            offset=offset,
            at_least_position=min_position,
        )
        return _page(found)

    @router.get("/invoices/{invoice_id}", **query_route())
    async def get_invoice(invoice_id: Id, min_position: MinPosition = None) -> dict[str, Any]:
        """One invoice."""
        return _camel(await queries.get_invoice(invoice_id, at_least_position=min_position))

    @router.get("/investors", response_model=Page, **query_route())
    async def list_investors(
        limit: Limit = 20, offset: Offset = 0, min_position: MinPosition = None
    ) -> Page:
        """Investors by name, with their balances."""
        found = await queries.list_investors(
            limit=limit, offset=offset, at_least_position=min_position
        )
        return _page(found)

    @router.get("/investors/{investor_id}", **query_route())
    async def get_investor(investor_id: Id, min_position: MinPosition = None) -> dict[str, Any]:
        """One investor: available, reserved and financed funds."""
        return _camel(await queries.get_investor(investor_id, at_least_position=min_position))

    @router.get("/issuers", response_model=Page, **query_route())
    async def list_issuers(
        limit: Limit = 20, offset: Offset = 0, min_position: MinPosition = None
    ) -> Page:
        """The issuers Financing knows, by name."""
        found = await queries.list_issuers(
            limit=limit, offset=offset, at_least_position=min_position
        )
        return _page(found)

    @router.get("/bids/{bid_id}", **query_route())
    async def get_bid(bid_id: Id, min_position: MinPosition = None) -> dict[str, Any]:
        """One bid: reserved, financed, rejected or released, and why."""
        return _camel(await queries.get_bid(bid_id, at_least_position=min_position))

    return router
