"""The bank-account gRPC API (``proto/bank_accounts.proto``): the HTTP API's operations.

Requests are validated by the same commands and checks as over HTTP; errors end the call
with the status code of ``eskit.grpc``, and the error's code and details (each bad field
and what is wrong with it) in the trailing metadata. Clients call it through the generated
stub, ``proto/bank_accounts_pb2_grpc.BankAccountServiceStub``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import Message

from bank_accounts.app import BankAccounts
from bank_accounts.commands import ChangeEmail, DepositMoney, OpenAccount, WithdrawMoney
from bank_accounts.proto import bank_accounts_pb2 as pb
from bank_accounts.wire import (
    MAX_PAGE_SIZE,
    MAX_SEARCH_LENGTH,
    MOMENT_RULE,
    NUL_RULE,
    account_view,
    check_read_parameters,
    has_nul,
    page_view,
    within_utc_years,
)
from eskit.domain.commands import Command
from eskit.errors import InvalidCommandError
from eskit.grpc import send_command, service_handler, unary

__all__ = ["SERVICE", "grpc_handlers"]

SERVICE = "eskit.bank_accounts.v1.BankAccountService"
Context = grpc.aio.ServicerContext[Any, Any]
Req = TypeVar("Req", bound=Message)
Resp = TypeVar("Resp")


def grpc_handlers(accounts: BankAccounts) -> list[grpc.GenericRpcHandler]:
    """The service's gRPC methods over ``accounts``."""

    async def send(context: Context, command: Command) -> pb.CommandReply:
        result = await send_command(context, accounts.handler, command)
        return pb.CommandReply(
            id=result.aggregate_id, version=result.version, position=result.position
        )

    async def create_account(request: pb.CreateAccountRequest, context: Context) -> pb.CommandReply:
        command = OpenAccount.parse(
            {
                "email": request.email,
                "address": request.address,
                "first_name": request.first_name,
                "last_name": request.last_name,
                "balance": request.balance,
                "currency": request.currency or "USD",
                "status": request.status or "active",
            }
        )
        return await send(context, command)

    async def deposit(request: pb.PaymentRequest, context: Context) -> pb.CommandReply:
        return await send(context, DepositMoney.parse(_payment(request)))

    async def withdraw(request: pb.PaymentRequest, context: Context) -> pb.CommandReply:
        return await send(context, WithdrawMoney.parse(_payment(request)))

    async def change_email(request: pb.ChangeEmailRequest, context: Context) -> pb.CommandReply:
        command = ChangeEmail.parse({"aggregate_id": request.id, "email": request.email})
        return await send(context, command)

    async def get_account(request: pb.GetAccountRequest, context: Context) -> pb.Account:
        _check_non_negative(request, "min_version", "min_position", "at_version")
        as_of = _moment(request.as_of) if request.as_of else None
        at_version = request.at_version or None  # proto3: 0 is "not given"
        min_version, min_position = request.min_version or None, request.min_position or None
        check_read_parameters(
            at_version=at_version, as_of=as_of, min_version=min_version, min_position=min_position
        )
        if at_version is not None or as_of is not None:
            doc = await accounts.queries.get_at(request.id, at_version=at_version, as_of=as_of)
        else:
            doc = await accounts.queries.get(
                request.id,
                source="events" if request.from_event_store else "read_model",
                min_version=min_version,
                at_least_position=min_position,
            )
        return pb.Account(**account_view(doc))

    async def search_accounts(
        request: pb.SearchAccountsRequest, context: Context
    ) -> pb.AccountPage:
        page, size = request.page or 1, request.size or 10
        _check_page(page, size, request.search)
        _check_non_negative(request, "min_position")
        found = await accounts.queries.search(
            request.search,
            sort="balance",
            descending=False,
            limit=size,
            offset=(page - 1) * size,
            at_least_position=request.min_position or None,
        )
        return pb.AccountPage(**page_view(found, page=page, size=size))

    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "CreateAccount": unary(_no_nul(create_account), pb.CreateAccountRequest.FromString),
        "Deposit": unary(_no_nul(deposit), pb.PaymentRequest.FromString),
        "Withdraw": unary(_no_nul(withdraw), pb.PaymentRequest.FromString),
        "ChangeEmail": unary(_no_nul(change_email), pb.ChangeEmailRequest.FromString),
        "GetAccount": unary(_no_nul(get_account), pb.GetAccountRequest.FromString),
        "SearchAccounts": unary(_no_nul(search_accounts), pb.SearchAccountsRequest.FromString),
    }
    return [service_handler(SERVICE, methods)]


def _payment(request: pb.PaymentRequest) -> dict[str, Any]:
    return {"aggregate_id": request.id, "amount": request.amount, "payment_id": request.payment_id}


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(["as_of"], "an ISO-8601 date-time with an offset") from None
    if moment.tzinfo is None:
        raise _invalid(["as_of"], "an ISO-8601 date-time with an offset (such as Z)")
    if not within_utc_years(moment):
        raise _invalid(["as_of"], MOMENT_RULE)
    return moment


def _no_nul(
    method: Callable[[Req, Context], Awaitable[Resp]],
) -> Callable[[Req, Context], Awaitable[Resp]]:
    """``method``, refusing requests with a NUL character in a string (see ``wire``)."""

    async def checked(request: Req, context: Context) -> Resp:
        bad = [field.name for field, value in request.ListFields() if has_nul(value)]
        if bad:
            raise _invalid(bad, NUL_RULE)
        return await method(request, context)

    return checked


def _check_page(page: int, size: int, search: str) -> None:
    """Each bad field of a search, with what is wrong with it, as HTTP's validation says."""
    errors = []
    if page < 1:
        errors.append({"loc": ["page"], "message": "must be at least 1"})
    if not 1 <= size <= MAX_PAGE_SIZE:
        errors.append({"loc": ["size"], "message": f"must be 1 to {MAX_PAGE_SIZE}"})
    if len(search) > MAX_SEARCH_LENGTH:
        errors.append(
            {"loc": ["search"], "message": f"must be at most {MAX_SEARCH_LENGTH} characters"}
        )
    if errors:
        raise InvalidCommandError("request", errors)


def _check_non_negative(request: Any, *fields: str) -> None:
    bad = [name for name in fields if getattr(request, name) < 0]
    if bad:
        raise _invalid(bad, "must not be negative")


def _invalid(fields: list[str], message: str) -> InvalidCommandError:
    return InvalidCommandError("request", [{"loc": [name], "message": message} for name in fields])
