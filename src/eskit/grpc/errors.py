"""eskit's errors as gRPC status codes, in one place.

A failed call ends with the status code below, the error's message as details, and the
error's stable code (``not_found``, ``insufficient_funds``...) in the trailing metadata
key ``eskit-error-code``.
"""

from __future__ import annotations

import grpc

from eskit.errors import (
    ConcurrencyError,
    DomainError,
    DuplicateEventError,
    EskitError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    NotCaughtUpError,
    NotFoundError,
    PayloadTooLargeError,
    StoreUnavailableError,
    UnauthorizedError,
)

__all__ = ["ERROR_CODE_KEY", "status_code_for"]

ERROR_CODE_KEY = "eskit-error-code"

_CODES: tuple[tuple[type[EskitError], grpc.StatusCode], ...] = (
    (InvalidCommandError, grpc.StatusCode.INVALID_ARGUMENT),
    (IdempotencyKeyReusedError, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (ConcurrencyError, grpc.StatusCode.ABORTED),
    (DomainError, grpc.StatusCode.FAILED_PRECONDITION),
    (DuplicateEventError, grpc.StatusCode.ALREADY_EXISTS),
    (UnauthorizedError, grpc.StatusCode.UNAUTHENTICATED),
    (PayloadTooLargeError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StoreUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (NotCaughtUpError, grpc.StatusCode.DEADLINE_EXCEEDED),
)


def status_code_for(error: EskitError) -> grpc.StatusCode:
    """The gRPC status of an eskit error (INTERNAL for one that is not the caller's to fix)."""
    for kind, code in _CODES:
        if isinstance(error, kind):
            return code
    return grpc.StatusCode.INTERNAL
