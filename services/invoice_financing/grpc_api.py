"""The invoice-financing gRPC API (``proto/invoice_financing.proto``): commands on one port,
queries on another.

``FinancingCommands`` queues each command, as the HTTP API does, and answers at once with
the command's id, the id of the aggregate it acts on (the participant's own id for a
registration) and the HTTP path of its status; ``GetCommand`` tells how it went. Requests
are validated by the same command classes as over HTTP; each bad field is named as the
request spells it (``investor_id``, ``amount.currency``). ``FinancingQueries`` reads the read
models; ``min_position`` waits until they hold a position a done command reached.

Errors end the call with the status code of ``eskit.grpc`` and the error's code and details
in the trailing metadata: bad input INVALID_ARGUMENT, an unknown id NOT_FOUND, a read model
that does not catch up in time DEADLINE_EXCEEDED, a full queue RESOURCE_EXHAUSTED (with
``retry-after``, in seconds). An ``idempotency-key`` in the call's metadata makes a command
safe to retry: the same key (from the same caller, to the same method and target) queues
the command once and answers the same command id.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any, NoReturn, TypeVar, cast, get_args

import grpc
import grpc.aio
import orjson
from google.protobuf.message import Message

from eskit.app.keys import MAX_KEY_LENGTH, idempotency_scope
from eskit.domain import Command, uuid7
from eskit.errors import InvalidCommandError, QueueFullError
from eskit.grpc import call_info, service_handler, unary
from eskit.grpc.errors import error_metadata
from eskit.store.queue import QueuedCommand
from invoice_financing.app import InvoiceFinancing, public_id
from invoice_financing.financing.commands import (
    BidOnInvoice,
    DepositFunds,
    PutInvoiceForSale,
    WithdrawFunds,
)
from invoice_financing.financing.domain import InvoiceStatus
from invoice_financing.http_api import PREFIX
from invoice_financing.proto import invoice_financing_pb2 as pb
from invoice_financing.queries import Page
from invoice_financing.registering.commands import RegisterInvestor, RegisterIssuer

__all__ = [
    "COMMANDS_SERVICE",
    "DEFAULT_PAGE_SIZE",
    "MAX_OFFSET",
    "MAX_PAGE_SIZE",
    "QUERIES_SERVICE",
    "command_handlers",
    "query_handlers",
]

COMMANDS_SERVICE = pb.DESCRIPTOR.services_by_name["FinancingCommands"].full_name
QUERIES_SERVICE = pb.DESCRIPTOR.services_by_name["FinancingQueries"].full_name
DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100
MAX_OFFSET = 1_000_000
"""The furthest a page may start, in rows (as over HTTP)."""
MAX_ID_LENGTH = 200
NUL_RULE = "must not contain NUL characters"
INVOICE_STATUSES: tuple[str, ...] = get_args(InvoiceStatus)
DATE_RULE = "an ISO 8601 date, YYYY-MM-DD"
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

_KEYS = uuid.UUID("5d3f7a1e-8c2b-4f6a-9e0d-1b7c4a2e6f93")
"""Command ids derived from idempotency keys (their own namespace: not HTTP's)."""

Context = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp", bound=Message)
C = TypeVar("C", bound=Command)

Locations = Mapping[str, Sequence[str]]
"""A command's field → where the request holds it (``"currency": ("amount", "currency")``)."""

_MONEY: Locations = {"amount": ("amount", "amount"), "currency": ("amount", "currency")}
_FUNDS: Locations = {"aggregate_id": ("investor_id",), **_MONEY}
_BID: Locations = {"aggregate_id": ("investor_id",), **_MONEY}


# -- commands ----------------------------------------------------------------------------


def command_handlers(app: InvoiceFinancing) -> list[grpc.GenericRpcHandler]:
    """The ``FinancingCommands`` methods over ``app``."""
    queue = app.queue

    async def accept(context: Context, command: Command, *, target: str) -> pb.CommandAccepted:
        """Queue ``command`` for the call; ``target``: the aggregate it changes ("" for a
        command making a new one), which scopes the call's idempotency key."""
        call = call_info(context)
        key = call.idempotency_key
        if key is not None:
            if not 1 <= len(key) <= MAX_KEY_LENGTH:
                raise _invalid(["idempotency-key"], f"1 to {MAX_KEY_LENGTH} characters")
            scope = idempotency_scope(call.actor, call.method, target)
            command_id = uuid.uuid5(_KEYS, f"{scope}\n{key}")
            command = command.model_copy(update={"command_id": command_id})
        try:
            receipt = await queue.submit(command, call.metadata())
        except QueueFullError as exc:
            await _queue_full(context, exc)
        return pb.CommandAccepted(
            command_id=str(receipt.command_id),
            aggregate_id=public_id(receipt.aggregate_id),
            status_url=f"{PREFIX}/commands/{receipt.command_id}",
        )

    async def register_issuer(
        request: pb.RegisterIssuerRequest, context: Context
    ) -> pb.CommandAccepted:
        return await accept(context, _parse(RegisterIssuer, {"name": request.name}), target="")

    async def register_investor(
        request: pb.RegisterInvestorRequest, context: Context
    ) -> pb.CommandAccepted:
        command = _parse(RegisterInvestor, {"name": request.name})
        return await accept(context, command, target="")

    async def deposit(request: pb.DepositFundsRequest, context: Context) -> pb.CommandAccepted:
        fields = {"aggregate_id": request.investor_id, **_money(request.amount)}
        command = _parse(DepositFunds, fields, _FUNDS)
        return await accept(context, command, target=command.aggregate_id)

    async def withdraw(request: pb.WithdrawFundsRequest, context: Context) -> pb.CommandAccepted:
        fields = {"aggregate_id": request.investor_id, **_money(request.amount)}
        command = _parse(WithdrawFunds, fields, _FUNDS)
        return await accept(context, command, target=command.aggregate_id)

    async def put_for_sale(
        request: pb.PutInvoiceForSaleRequest, context: Context
    ) -> pb.CommandAccepted:
        fields = {
            "issuer_id": request.issuer_id,
            **_money(request.amount),
            "due_date": request.due_date,
        }
        errors = []
        if not _ISO_DATE.fullmatch(request.due_date):  # not the timestamps pydantic takes too
            errors.append(_error("due_date", DATE_RULE))
            fields["due_date"] = date.min  # a stand-in, so that the other fields are checked
        command = _parse(PutInvoiceForSale, fields, _MONEY, errors)
        return await accept(context, command, target="")

    async def bid(request: pb.BidOnInvoiceRequest, context: Context) -> pb.CommandAccepted:
        fields = {
            "aggregate_id": request.investor_id,
            "invoice_id": request.invoice_id,
            **_money(request.amount),
            "bid_id": request.bid_id or uuid7(),
        }
        command = _parse(BidOnInvoice, fields, _BID)
        return await accept(context, command, target=command.aggregate_id)

    async def get_command(request: pb.GetCommandRequest, context: Context) -> pb.CommandStatus:
        try:
            command_id = uuid.UUID(request.command_id)
        except ValueError:
            raise _invalid(["command_id"], "a UUID, as CommandAccepted answered it") from None
        return _command_status(await queue.status(command_id))

    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "RegisterIssuer": _method(register_issuer, pb.RegisterIssuerRequest),
        "RegisterInvestor": _method(register_investor, pb.RegisterInvestorRequest),
        "DepositFunds": _method(deposit, pb.DepositFundsRequest),
        "WithdrawFunds": _method(withdraw, pb.WithdrawFundsRequest),
        "PutInvoiceForSale": _method(put_for_sale, pb.PutInvoiceForSaleRequest),
        "BidOnInvoice": _method(bid, pb.BidOnInvoiceRequest),
        "GetCommand": _method(get_command, pb.GetCommandRequest),
    }
    return [service_handler(COMMANDS_SERVICE, methods)]


def _money(money: pb.Money) -> dict[str, Any]:
    return {"amount": money.amount, "currency": money.currency}


def _parse(
    command_type: type[C],
    fields: dict[str, Any],
    where: Locations | None = None,
    errors: Sequence[dict[str, Any]] = (),
) -> C:
    """``command_type`` from ``fields``; InvalidCommandError names each bad field where the
    request holds it (``where``: the command's field → the request's path to it), after the
    ``errors`` found before."""
    try:
        command = command_type.parse(fields)
    except InvalidCommandError as exc:
        found = [*errors, *(_relocate(error, where or {}) for error in exc.errors)]
        raise InvalidCommandError(exc.model, found) from None
    if errors:
        raise InvalidCommandError(command_type.__name__, errors)
    return command


def _relocate(error: Mapping[str, Any], where: Locations) -> dict[str, Any]:
    loc = list(error.get("loc", ()))
    if loc and str(loc[0]) in where:
        loc = [*where[str(loc[0])], *loc[1:]]
    return {**error, "loc": loc}


def _command_status(queued: QueuedCommand) -> pb.CommandStatus:
    """A queued command as ``CommandStatus``: ``version`` and ``position`` once done, the
    error's code and message once refused or dead."""
    outcome = queued.outcome or {}
    error = outcome.get("error") or {}
    aggregate_id = outcome.get("aggregate_id") or _target(queued.payload)
    return pb.CommandStatus(
        command_id=str(queued.id),
        status=queued.status,
        attempts=queued.attempts,
        aggregate_id=public_id(aggregate_id),
        version=outcome.get("version") or 0,
        position=outcome.get("position") or 0,
        error_code=error.get("code") or "",
        error_message=error.get("message") or "",
    )


def _target(payload: str) -> str:
    """The aggregate a queued command's payload names."""
    found = orjson.loads(payload).get("aggregate_id")
    return found if isinstance(found, str) else ""


async def _queue_full(context: Context, exc: QueueFullError) -> NoReturn:
    """End the call RESOURCE_EXHAUSTED, telling when to retry (``retry-after``, seconds)."""
    retry_after = str(max(1, round(exc.retry_after_s)))
    trailers = (*error_metadata(exc.code, exc.message), ("retry-after", retry_after))
    await context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, exc.message, trailing_metadata=trailers)


# -- queries -----------------------------------------------------------------------------


def query_handlers(app: InvoiceFinancing) -> list[grpc.GenericRpcHandler]:
    """The ``FinancingQueries`` methods over ``app``."""
    queries = app.queries

    async def get_invoice(request: pb.GetInvoiceRequest, context: Context) -> pb.Invoice:
        _check_id(request.id, "id")
        row = await queries.get_invoice(request.id, at_least_position=_min_position(request))
        return _invoice(row)

    async def list_invoices(request: pb.ListInvoicesRequest, context: Context) -> pb.InvoicePage:
        page, size = _page_and_size(request)
        errors = []
        if request.status and request.status not in INVOICE_STATUSES:
            errors.append(_error("status", f"one of {', '.join(INVOICE_STATUSES)}, or empty"))
        if len(request.issuer_id) > MAX_ID_LENGTH:
            errors.append(_error("issuer_id", f"at most {MAX_ID_LENGTH} characters"))
        if errors:
            raise InvalidCommandError("request", errors)
        found = await queries.list_invoices(
            status=cast("InvoiceStatus | None", request.status or None),  # checked above
            issuer_id=request.issuer_id or None,
            limit=size,
            offset=(page - 1) * size,
            at_least_position=_min_position(request),
        )
        return pb.InvoicePage(
            items=[_invoice(row) for row in found.items], **_paging(found, page, size)
        )

    async def get_investor(request: pb.GetInvestorRequest, context: Context) -> pb.Investor:
        _check_id(request.id, "id")
        row = await queries.get_investor(request.id, at_least_position=_min_position(request))
        return _investor(row)

    async def list_investors(request: pb.ListInvestorsRequest, context: Context) -> pb.InvestorPage:
        page, size = _page_and_size(request)
        found = await queries.list_investors(
            limit=size, offset=(page - 1) * size, at_least_position=_min_position(request)
        )
        return pb.InvestorPage(
            items=[_investor(row) for row in found.items], **_paging(found, page, size)
        )

    async def get_bid(request: pb.GetBidRequest, context: Context) -> pb.Bid:
        _check_id(request.bid_id, "bid_id")
        row = await queries.get_bid(request.bid_id, at_least_position=_min_position(request))
        return pb.Bid(
            bid_id=row["bid_id"],
            invoice_id=row["invoice_id"] or "",
            investor_id=row["investor_id"] or "",
            amount=row["amount"] or 0,
            status=row["status"],
            reason=row["reason"] or "",
        )

    async def list_issuers(request: pb.ListIssuersRequest, context: Context) -> pb.IssuerPage:
        page, size = _page_and_size(request)
        found = await queries.list_issuers(
            limit=size, offset=(page - 1) * size, at_least_position=_min_position(request)
        )
        issuers = [pb.Issuer(id=row["id"], name=row["name"]) for row in found.items]
        return pb.IssuerPage(items=issuers, **_paging(found, page, size))

    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "GetInvoice": _method(get_invoice, pb.GetInvoiceRequest),
        "ListInvoices": _method(list_invoices, pb.ListInvoicesRequest),
        "GetInvestor": _method(get_investor, pb.GetInvestorRequest),
        "ListInvestors": _method(list_investors, pb.ListInvestorsRequest),
        "GetBid": _method(get_bid, pb.GetBidRequest),
        "ListIssuers": _method(list_issuers, pb.ListIssuersRequest),
    }
    return [service_handler(QUERIES_SERVICE, methods)]


def _invoice(row: Mapping[str, Any]) -> pb.Invoice:
    return pb.Invoice(
        id=row["id"],
        issuer_id=row["issuer_id"],
        amount=pb.Money(amount=row["amount"], currency=row["currency"]),
        due_date=row["due_date"],
        status=row["status"],
        investor_id=row["investor_id"] or "",
        bid_id=row["bid_id"] or "",
        updated_at=_utc(row["updated_at"]),
    )


def _investor(row: Mapping[str, Any]) -> pb.Investor:
    return pb.Investor(
        id=row["id"],
        name=row["name"],
        currency=row["currency"],
        available=row["available"],
        reserved=row["reserved"],
        financed=row["financed"],
    )


def _utc(moment: datetime | str) -> str:
    """ISO 8601 in UTC, ending in ``Z``."""
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _paging(found: Page, page: int, size: int) -> dict[str, Any]:
    return {"page": page, "size": size, "total": found.total, "has_more": found.has_more}


def _page_and_size(request: Any) -> tuple[int, int]:
    """``page`` (from 1; 0 means 1) and ``size`` (1 to 100; 0 means 10) of a list request;
    InvalidCommandError naming each that is out of range."""
    page: int = request.page or 1
    size: int = request.size or DEFAULT_PAGE_SIZE
    errors = []
    if page < 1:
        errors.append(_error("page", "must be at least 1 (0 means 1)"))
    if not 1 <= size <= MAX_PAGE_SIZE:
        errors.append(_error("size", f"must be 1 to {MAX_PAGE_SIZE} (0 means {DEFAULT_PAGE_SIZE})"))
    elif page >= 1 and (page - 1) * size > MAX_OFFSET:
        errors.append(_error("page", f"a page may start at most {MAX_OFFSET} rows in"))
    bad_position = _bad_position(request)
    if bad_position:
        errors.append(bad_position)
    if errors:
        raise InvalidCommandError("request", errors)
    return page, size


def _min_position(request: Any) -> int | None:
    """The request's ``min_position``, None when not given; InvalidCommandError if < 0."""
    bad = _bad_position(request)
    if bad:
        raise InvalidCommandError("request", [bad])
    return int(request.min_position) if request.HasField("min_position") else None


def _bad_position(request: Any) -> dict[str, Any] | None:
    if request.HasField("min_position") and request.min_position < 0:
        return _error("min_position", "must not be negative")
    return None


def _check_id(value: str, field: str) -> None:
    if not 1 <= len(value) <= MAX_ID_LENGTH:
        raise _invalid([field], f"1 to {MAX_ID_LENGTH} characters")


# -- shared ------------------------------------------------------------------------------


def _method(
    method: Callable[[Req, Context], Awaitable[Resp]], request_type: type[Req]
) -> grpc.RpcMethodHandler[Req, Any]:
    """A unary handler of ``method``, refusing a request with a NUL character in any text:
    no store could keep one (PostgreSQL text cannot), and no id or name has one."""

    async def checked(request: Req, context: Context) -> Resp:
        bad = _nul_fields(request)
        if bad:
            raise InvalidCommandError("request", [_error(path, NUL_RULE) for path in bad])
        return await method(request, context)

    return unary(checked, request_type.FromString)


def _nul_fields(message: Message, prefix: str = "") -> list[str]:
    """The paths of the text fields of ``message`` (and the messages in it) holding NUL."""
    bad = []
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if isinstance(value, Message):
            bad.extend(_nul_fields(value, path + "."))
        elif isinstance(value, str) and "\x00" in value:
            bad.append(path)
    return bad


def _error(path: str, message: str) -> dict[str, Any]:
    return {"loc": path.split("."), "message": message}


def _invalid(fields: list[str], message: str) -> InvalidCommandError:
    return InvalidCommandError("request", [_error(name, message) for name in fields])
