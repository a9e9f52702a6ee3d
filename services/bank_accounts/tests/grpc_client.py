"""A small typed client of the bank-account gRPC service, over a real channel.

No generated stubs: each method is ``channel.unary_unary`` with the generated messages'
serializers, which is what a client in any language does with the ``.proto``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import grpc
import grpc.aio
import pytest

from bank_accounts.proto import bank_accounts_pb2 as pb
from eskit.grpc import ERROR_CODE_KEY, ERROR_DETAILS_KEY

SERVICE = "eskit.bank_accounts.v1.BankAccountService"

Metadata = Sequence[tuple[str, str]]


class _Message(Protocol):
    def SerializeToString(self) -> bytes: ...  # noqa: N802 - protobuf's name


Req = TypeVar("Req", bound=_Message)
Resp = TypeVar("Resp")


class Method(Generic[Req, Resp]):
    """One unary method: ``await method(request, metadata=...)`` answers its reply."""

    def __init__(
        self, channel: grpc.aio.Channel, name: str, parse: Callable[[bytes], Resp]
    ) -> None:
        self.path = f"/{SERVICE}/{name}"
        self._call: grpc.aio.UnaryUnaryMultiCallable[Req, Resp] = channel.unary_unary(
            self.path, request_serializer=_serialize, response_deserializer=parse
        )

    def __call__(
        self, request: Req, *, metadata: Metadata = (), timeout: float | None = 10.0
    ) -> grpc.aio.UnaryUnaryCall[Req, Resp]:
        return self._call(request, metadata=tuple(metadata), timeout=timeout)


def _serialize(message: _Message) -> bytes:
    return message.SerializeToString()


class BankAccountsClient:
    """The service's six methods over ``channel``, plus :meth:`open` with defaults."""

    def __init__(self, channel: grpc.aio.Channel) -> None:
        self.create_account: Method[pb.CreateAccountRequest, pb.CommandReply] = Method(
            channel, "CreateAccount", pb.CommandReply.FromString
        )
        self.deposit: Method[pb.PaymentRequest, pb.CommandReply] = Method(
            channel, "Deposit", pb.CommandReply.FromString
        )
        self.withdraw: Method[pb.PaymentRequest, pb.CommandReply] = Method(
            channel, "Withdraw", pb.CommandReply.FromString
        )
        self.change_email: Method[pb.ChangeEmailRequest, pb.CommandReply] = Method(
            channel, "ChangeEmail", pb.CommandReply.FromString
        )
        self.get_account: Method[pb.GetAccountRequest, pb.Account] = Method(
            channel, "GetAccount", pb.Account.FromString
        )
        self.search_accounts: Method[pb.SearchAccountsRequest, pb.AccountPage] = Method(
            channel, "SearchAccounts", pb.AccountPage.FromString
        )

    async def open(self, *, metadata: Metadata = (), **fields: Any) -> pb.CommandReply:
        """Open an account with sensible defaults for the fields not given."""
        request = pb.CreateAccountRequest(
            **{
                "email": "ann@example.com",
                "address": "1 Main St",
                "first_name": "Ann",
                "last_name": "Lee",
                "balance": 1000,
                **fields,
            }
        )
        return await self.create_account(request, metadata=metadata)


@dataclass(frozen=True)
class Failure:
    """How a call failed: its status, the eskit error code (trailing metadata), details,
    and the error as the trailing ``eskit-error-details`` has it (``{"code", "message",
    "details"}``, None without it)."""

    status: grpc.StatusCode
    code: str | None
    details: str
    error: dict[str, Any] | None = None

    def bad_fields(self) -> set[str]:
        """The fields the error's details name (the last part of each ``loc``)."""
        assert self.error is not None, self
        assert self.error["details"], self
        return {str(detail["loc"][-1]) for detail in self.error["details"]}


async def failure(call: Awaitable[object]) -> Failure:
    """The failure of ``call``, which must fail."""
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    error = caught.value
    trailers = dict(error.trailing_metadata() or ())
    code = trailers.get(ERROR_CODE_KEY)
    details = trailers.get(ERROR_DETAILS_KEY)
    return Failure(
        error.code(),
        str(code) if code is not None else None,
        error.details() or "",
        json.loads(details) if details is not None else None,
    )
