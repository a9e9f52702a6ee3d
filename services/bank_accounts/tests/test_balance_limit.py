"""The largest balance an account can hold, over HTTP and gRPC, on both backends.

A command that would take a balance past ``MAX_BALANCE`` is refused by the domain (HTTP 409,
gRPC ``FAILED_PRECONDITION``, code ``balance_limit``) and writes nothing, so no read model
ever meets a balance it cannot store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import grpc.aio
import httpx
import pytest

from bank_accounts import MAX_BALANCE
from bank_accounts.proto import bank_accounts_pb2 as pb
from bank_accounts.tests.grpc_client import BankAccountsClient, failure
from bank_accounts.tests.support import (
    ACCOUNTS,
    account_body,
    assert_error,
    bad_fields,
    deposit,
    get_account,
    open_account,
)
from eskit.serving import ServiceRuntime

pytestmark = pytest.mark.integration


@pytest.fixture
async def bank(runtime: ServiceRuntime) -> AsyncIterator[BankAccountsClient]:
    assert runtime.grpc_port
    async with grpc.aio.insecure_channel(f"127.0.0.1:{runtime.grpc_port}") as channel:
        yield BankAccountsClient(channel)


async def stored_version(runtime: ServiceRuntime, account_id: str) -> int:
    return await runtime.store.stream_version(account_id)


# -- HTTP ------------------------------------------------------------------------------------


async def test_http_deposit_up_to_the_limit_is_accepted(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    opened = await open_account(client, balance=MAX_BALANCE - 10)
    assert (await deposit(client, opened["id"], 10)).status_code == 200
    account = await get_account(client, opened["id"], fromEventStore="true")
    assert account["balance"]["amount"] == MAX_BALANCE


async def test_http_deposit_past_the_limit_is_409_balance_limit_and_writes_nothing(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    opened = await open_account(client, balance=MAX_BALANCE - 10)
    error = assert_error(await deposit(client, opened["id"], 11), 409, "balance_limit")
    assert str(MAX_BALANCE) in error["message"]
    assert await stored_version(runtime, opened["id"]) == 1
    account = await get_account(client, opened["id"], fromEventStore="true")
    assert account["balance"]["amount"] == MAX_BALANCE - 10


async def test_http_repeated_deposits_stop_at_the_limit(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    """The report's case: deposits of 10**15 each, each within the per-request limit."""
    opened = await open_account(client, balance=10**15)
    answers = [(await deposit(client, opened["id"], 10**15)).status_code for _ in range(9)]
    assert answers == [200] * 8 + [409]
    assert await stored_version(runtime, opened["id"]) == 9
    account = await get_account(client, opened["id"], fromEventStore="true")
    assert account["balance"]["amount"] == 9 * 10**15 <= MAX_BALANCE


async def test_http_opening_balance_past_the_limit_is_409_and_opens_nothing(
    client: httpx.AsyncClient, runtime: ServiceRuntime
) -> None:
    head = await runtime.store.last_position()
    response = await client.post(ACCOUNTS, json=account_body(balance=MAX_BALANCE + 1))
    assert_error(response, 409, "balance_limit")
    assert await runtime.store.last_position() == head


async def test_http_opening_balance_past_64_bits_is_a_validation_error(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(ACCOUNTS, json=account_body(balance=2**63))
    assert bad_fields(assert_error(response, 422, "validation_error")) == {"balance"}


# -- gRPC ------------------------------------------------------------------------------------


async def test_grpc_deposit_past_the_limit_is_failed_precondition_and_writes_nothing(
    bank: BankAccountsClient, runtime: ServiceRuntime
) -> None:
    opened = await bank.open(balance=MAX_BALANCE - 10)
    refused = await failure(
        bank.deposit(pb.PaymentRequest(id=opened.id, amount=11, payment_id="p-1"))
    )
    assert (refused.status, refused.code) == (grpc.StatusCode.FAILED_PRECONDITION, "balance_limit")
    assert await stored_version(runtime, opened.id) == 1
    await bank.deposit(pb.PaymentRequest(id=opened.id, amount=10, payment_id="p-2"))
    account = await bank.get_account(pb.GetAccountRequest(id=opened.id, from_event_store=True))
    assert (account.version, account.balance.amount) == (2, MAX_BALANCE)


async def test_grpc_opening_balance_past_the_limit_is_failed_precondition(
    bank: BankAccountsClient, runtime: ServiceRuntime
) -> None:
    head = await runtime.store.last_position()
    refused = await failure(bank.open(balance=MAX_BALANCE + 1))
    assert (refused.status, refused.code) == (grpc.StatusCode.FAILED_PRECONDITION, "balance_limit")
    assert await runtime.store.last_position() == head
