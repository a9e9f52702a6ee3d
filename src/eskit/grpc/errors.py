"""eskit's errors as gRPC status codes, in one place.

A failed call ends with the status code below, the error's message as details, the
error's stable code (``not_found``, ``insufficient_funds``...) in the trailing metadata
key ``eskit-error-code``, and in ``eskit-error-details`` the error as HTTP answers it:
JSON ``{"code", "message", "details"}``, ``details`` listing each bad field of a validation
error (``{"loc", "message", "type"}``). An error that is not the caller's to fix ends the
call INTERNAL with the code ``internal_error`` and is logged.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import grpc

from eskit.errors import (
    ConcurrencyError,
    ConflictingParametersError,
    DomainError,
    DuplicateEventError,
    EskitError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    NotCaughtUpError,
    NotFoundError,
    PayloadTooLargeError,
    QueueFullError,
    StoreUnavailableError,
    UnauthorizedError,
    UnknownCommandTypeError,
)

__all__ = [
    "ERROR_CODE_KEY",
    "ERROR_DETAILS_KEY",
    "INTERNAL_ERROR",
    "error_metadata",
    "status_code_for",
    "status_code_of",
]

ERROR_CODE_KEY = "eskit-error-code"
ERROR_DETAILS_KEY = "eskit-error-details"
INTERNAL_ERROR = "internal_error"
MAX_DETAILS_CHARS = 4096
"""The longest ``eskit-error-details`` sent whole."""

_CODES: tuple[tuple[type[EskitError], grpc.StatusCode], ...] = (
    (ConflictingParametersError, grpc.StatusCode.INVALID_ARGUMENT),
    (InvalidCommandError, grpc.StatusCode.INVALID_ARGUMENT),
    (IdempotencyKeyReusedError, grpc.StatusCode.INVALID_ARGUMENT),
    (UnknownCommandTypeError, grpc.StatusCode.INVALID_ARGUMENT),
    (QueueFullError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (NotFoundError, grpc.StatusCode.NOT_FOUND),
    (ConcurrencyError, grpc.StatusCode.ABORTED),
    (DomainError, grpc.StatusCode.FAILED_PRECONDITION),
    (DuplicateEventError, grpc.StatusCode.ALREADY_EXISTS),
    (UnauthorizedError, grpc.StatusCode.UNAUTHENTICATED),
    (PayloadTooLargeError, grpc.StatusCode.RESOURCE_EXHAUSTED),
    (StoreUnavailableError, grpc.StatusCode.UNAVAILABLE),
    (NotCaughtUpError, grpc.StatusCode.DEADLINE_EXCEEDED),
)


def status_code_of(kind: type[EskitError]) -> grpc.StatusCode:
    """The gRPC status of a kind of eskit error (INTERNAL for one not the caller's to fix)."""
    for known, code in _CODES:
        if issubclass(kind, known):
            return code
    return grpc.StatusCode.INTERNAL


def status_code_for(error: EskitError) -> grpc.StatusCode:
    """The gRPC status of an eskit error (INTERNAL for one that is not the caller's to fix)."""
    return status_code_of(type(error))


def error_metadata(
    code: str, message: str, details: Sequence[object] | None = None
) -> tuple[tuple[str, str], ...]:
    """The trailing metadata of a call that failed with ``code``.

    Details longer than :data:`MAX_DETAILS_CHARS` are cut short (the message, then the
    details list dropped): metadata past gRPC's size limit would end the call otherwise.
    """
    body = _details(code, message, details)
    if len(body) > MAX_DETAILS_CHARS:
        body = _details(code, message[: MAX_DETAILS_CHARS // 8] + "…", None)
    return ((ERROR_CODE_KEY, code), (ERROR_DETAILS_KEY, body))


def _details(code: str, message: str, details: Sequence[object] | None) -> str:
    # ASCII only: plain metadata values may hold nothing else
    return json.dumps({"code": code, "message": message, "details": details}, ensure_ascii=True)
