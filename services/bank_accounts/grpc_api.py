"""The bank-account gRPC API (``proto/bank_accounts.proto``): the HTTP API's operations.

Requests are validated by the same commands as over HTTP; errors end the call with the
status code of ``eskit.grpc`` and the error's code in the trailing metadata.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import grpc
import grpc.aio
from google.protobuf.message import Message

from bank_accounts.commands import ChangeEmail, DepositMoney, OpenAccount, WithdrawMoney
from bank_accounts.proto import bank_accounts_pb2 as pb
from bank_accounts.service import BankAccounts
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
        if request.at_version or as_of is not None:
            if request.at_version and as_of is not None:
                raise _invalid(["at_version", "as_of"], "give one of at_version and as_of")
            doc = await accounts.queries.get_at(
                request.id, at_version=request.at_version or None, as_of=as_of
            )
        else:
            doc = await accounts.queries.get(
                request.id,
                source="events" if request.from_event_store else "read_model",
                min_version=request.min_version or None,
                at_least_position=request.min_position or None,
            )
        return account_message(doc)

    async def search_accounts(
        request: pb.SearchAccountsRequest, context: Context
    ) -> pb.AccountPage:
        page, size = request.page or 1, request.size or 10
        if page < 1 or not 1 <= size <= 100 or len(request.search) > 200:
            raise _invalid(["page", "size", "search"], "page >= 1, size 1 to 100, search <= 200")
        _check_non_negative(request, "min_position")
        found = await accounts.queries.search(
            request.search,
            sort="balance",
            descending=False,
            limit=size,
            offset=(page - 1) * size,
            at_least_position=request.min_position or None,
        )
        return pb.AccountPage(
            items=[account_message(item) for item in found.items],
            page=page,
            size=size,
            total=found.total,
            has_more=found.offset + len(found.items) < found.total,
        )

    methods: dict[str, grpc.RpcMethodHandler[Any, Any]] = {
        "CreateAccount": unary(_no_nul(create_account), pb.CreateAccountRequest.FromString),
        "Deposit": unary(_no_nul(deposit), pb.PaymentRequest.FromString),
        "Withdraw": unary(_no_nul(withdraw), pb.PaymentRequest.FromString),
        "ChangeEmail": unary(_no_nul(change_email), pb.ChangeEmailRequest.FromString),
        "GetAccount": unary(_no_nul(get_account), pb.GetAccountRequest.FromString),
        "SearchAccounts": unary(_no_nul(search_accounts), pb.SearchAccountsRequest.FromString),
    }
    return [service_handler(SERVICE, methods)]


def account_message(doc: dict[str, Any]) -> pb.Account:
    """The gRPC shape of an account document."""
    return pb.Account(
        id=doc["account_id"],
        email=doc["email"],
        address=doc["address"],
        first_name=doc["first_name"],
        last_name=doc["last_name"],
        balance=pb.Money(amount=doc["balance"], currency=doc["currency"]),
        status=doc["status"],
        version=doc["version"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
    )


def _payment(request: pb.PaymentRequest) -> dict[str, Any]:
    return {"aggregate_id": request.id, "amount": request.amount, "payment_id": request.payment_id}


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _invalid(["as_of"], "an ISO-8601 date-time with an offset") from None
    if moment.tzinfo is None:
        raise _invalid(["as_of"], "an ISO-8601 date-time with an offset (such as Z)")
    try:
        moment.astimezone(UTC)  # the store compares moments in UTC
    except OverflowError:
        raise _invalid(["as_of"], "a moment within the years 1 to 9999 in UTC") from None
    return moment


def _no_nul(
    method: Callable[[Req, Context], Awaitable[Resp]],
) -> Callable[[Req, Context], Awaitable[Resp]]:
    """``method``, refusing requests with a NUL character in a string: no store keeps one
    (PostgreSQL text cannot), and no id, name or address has one."""

    async def checked(request: Req, context: Context) -> Resp:
        bad = [
            field.name
            for field, value in request.ListFields()
            if isinstance(value, str) and "\x00" in value
        ]
        if bad:
            raise _invalid(bad, "must not contain NUL characters")
        return await method(request, context)

    return checked


def _check_non_negative(request: Any, *fields: str) -> None:
    bad = [name for name in fields if getattr(request, name) < 0]
    if bad:
        raise _invalid(bad, "must not be negative")


def _invalid(fields: list[str], message: str) -> InvalidCommandError:
    return InvalidCommandError("request", [{"loc": [name], "message": message} for name in fields])
