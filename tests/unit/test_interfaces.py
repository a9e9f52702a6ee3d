"""The pieces the HTTP and gRPC layers share: error mapping, keyed locks, settings."""

from __future__ import annotations

import asyncio

import grpc
import pytest

from eskit.app.callers import ApiKeys, bearer_token, request_id_from
from eskit.app.locks import KeyedLocks
from eskit.cli.serve import redacted
from eskit.errors import (
    ConcurrencyError,
    ConfigurationError,
    DomainError,
    EskitError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    NotCaughtUpError,
    NotFoundError,
    PayloadTooLargeError,
    StoreUnavailableError,
    UnauthorizedError,
    UnknownEventTypeError,
)
from eskit.grpc import status_code_for
from eskit.http import status_for
from eskit.serving import load_service
from eskit.settings import EskitSettings

pytestmark = pytest.mark.unit

CASES: list[tuple[EskitError, int, grpc.StatusCode]] = [
    (InvalidCommandError("X", []), 422, grpc.StatusCode.INVALID_ARGUMENT),
    (IdempotencyKeyReusedError("k"), 422, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError("Wallet", "a"), 404, grpc.StatusCode.NOT_FOUND),
    (ConcurrencyError("a", 1, 2), 409, grpc.StatusCode.ABORTED),
    (DomainError("no"), 409, grpc.StatusCode.FAILED_PRECONDITION),
    (UnauthorizedError("who?"), 401, grpc.StatusCode.UNAUTHENTICATED),
    (PayloadTooLargeError(10), 413, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StoreUnavailableError("down"), 503, grpc.StatusCode.UNAVAILABLE),
    (NotCaughtUpError("p", 5, 3, 1.0), 504, grpc.StatusCode.DEADLINE_EXCEEDED),
    (UnknownEventTypeError("x.Y", 7), 500, grpc.StatusCode.INTERNAL),
    (ConfigurationError("bad"), 500, grpc.StatusCode.INTERNAL),
]


@pytest.mark.parametrize(("error", "status", "code"), CASES)
def test_one_mapping_for_http_and_grpc(
    error: EskitError, status: int, code: grpc.StatusCode
) -> None:
    assert status_for(error) == status
    assert status_code_for(error) == code


async def test_keyed_locks_serialise_one_key_and_forget_it_afterwards() -> None:
    locks = KeyedLocks()
    inside: list[str] = []
    overlaps: list[str] = []

    async def use(key: str) -> None:
        async with locks.hold(key):
            if key in inside:
                overlaps.append(key)
            inside.append(key)
            await asyncio.sleep(0.001)
            inside.remove(key)

    await asyncio.gather(*(use(key) for key in "abcab" * 10))
    assert overlaps == []
    assert len(locks) == 0


async def test_keyed_locks_let_other_keys_run_meanwhile() -> None:
    locks = KeyedLocks()
    entered = asyncio.Event()

    async def hold_a() -> None:
        async with locks.hold("a"):
            entered.set()
            await asyncio.sleep(0.05)

    task = asyncio.create_task(hold_a())
    await entered.wait()
    async with asyncio.timeout(0.02), locks.hold("b"):
        pass
    await task


def test_api_keys_come_comma_separated_and_stay_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ESKIT_API_KEYS", " first, second ,,")
    settings = EskitSettings()
    assert [key.get_secret_value() for key in settings.api_keys] == ["first", "second"]
    assert "first" not in repr(settings)
    assert "second" not in str(settings.model_dump())


def test_printed_database_urls_hide_the_password() -> None:
    assert redacted("postgresql://app:s3cret@db:5432/bank") == "postgresql://app:***@db:5432/bank"
    assert redacted("sqlite:///eskit.db") == "sqlite:///eskit.db"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-colon", "expected 'module:attribute'"),
        ("nowhere.at.all:service", "cannot import nowhere.at.all"),
        ("tests.wallets.domain:registry", "is not an eskit Service"),
    ],
)
def test_a_bad_service_setting_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_service(spec)


def test_request_ids_and_bearer_tokens_are_read_the_same_way_for_http_and_grpc() -> None:
    assert request_id_from("abc-123:x.y_z") == "abc-123:x.y_z"
    for bad in (None, "", "has space", "x" * 129, "nul\x00"):
        assert request_id_from(bad) != bad
    assert bearer_token("Bearer  k1 ") == "k1"
    assert bearer_token("bearer k1") == "k1"
    assert bearer_token("Basic k1") == ""
    keys = ApiKeys(["k1", "k2"])
    assert keys.known("k2")
    assert not keys.known("k3")
    assert not keys.known("")
    assert not ApiKeys([])
