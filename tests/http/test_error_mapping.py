"""One mapping of eskit errors to HTTP statuses and gRPC status codes."""

from __future__ import annotations

import grpc
import pytest

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
