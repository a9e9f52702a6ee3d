"""eskit's errors as HTTP answers, in one place.

Every error answer has the body ``{"error": {"code", "message", "details"}}``: ``code`` is
stable and meant for programs (``not_found``, ``insufficient_funds``...), ``message`` for
people, ``details`` is the list of bad fields of a validation error (else null).
:data:`ERROR_DESCRIPTIONS` holds every code answered here but a service's own business
rules (subclasses of DomainError); an error that is not the caller's to fix answers
``internal_error`` and is logged, whatever its own code.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from eskit.errors import (
    ConcurrencyError,
    ConflictingParametersError,
    DomainError,
    DuplicateEventError,
    EskitError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    MalformedJsonError,
    NotCaughtUpError,
    NotFoundError,
    PayloadTooLargeError,
    QueueFullError,
    StoreUnavailableError,
    UnauthorizedError,
    UnknownCommandTypeError,
    UnsupportedMediaTypeError,
    describe_field_errors,
)

__all__ = [
    "ERROR_DESCRIPTIONS",
    "ERROR_RESPONSES",
    "INTERNAL_ERROR",
    "METHOD_NOT_ALLOWED",
    "ErrorBody",
    "ErrorResponse",
    "error_response",
    "error_responses",
    "install_error_handlers",
    "status_for",
    "status_of",
]

log = logging.getLogger(__name__)

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_STATUS: tuple[tuple[type[EskitError], int], ...] = (
    (MalformedJsonError, 400),
    (UnsupportedMediaTypeError, 415),
    (InvalidCommandError, 422),
    (UnknownCommandTypeError, 422),
    (QueueFullError, 429),
    (IdempotencyKeyReusedError, 422),
    (NotFoundError, 404),
    (ConcurrencyError, 409),
    (DomainError, 409),
    (DuplicateEventError, 409),
    (UnauthorizedError, 401),
    (PayloadTooLargeError, 413),
    (StoreUnavailableError, 503),
    (NotCaughtUpError, 504),
)


class ErrorBody(BaseModel):
    """What went wrong: a stable code, a message, and the bad fields if any."""

    code: str
    message: str
    details: list[dict[str, Any]] | None = None


class ErrorResponse(BaseModel):
    """The body of every error answer."""

    error: ErrorBody


METHOD_NOT_ALLOWED = "method_not_allowed"
"""The code of a 405: the path exists, but not with that method."""

INTERNAL_ERROR = "internal_error"
"""The code of a 500: a failure that is not the caller's to fix (the log has it)."""

_OTHER_STATUS = {METHOD_NOT_ALLOWED: 405, INTERNAL_ERROR: 500}

ERROR_DESCRIPTIONS: dict[str, str] = {
    MalformedJsonError.code: "the body is not UTF-8 JSON, or it nests too deep",
    UnauthorizedError.code: "API keys are on and no valid one was sent",
    NotFoundError.code: "no such resource (or not at that version or time)",
    METHOD_NOT_ALLOWED: "the path does not answer this method; Allow lists those it does",
    ConcurrencyError.code: "another command changed the same aggregate meanwhile",
    DuplicateEventError.code: "an event id is stored already, with other content",
    PayloadTooLargeError.code: "the body is over the size limit, declared or streamed",
    UnsupportedMediaTypeError.code: "the body is not declared as application/json",
    InvalidCommandError.code: "invalid fields or parameters; details lists each",
    ConflictingParametersError.code: "parameters that exclude each other; details names them",
    IdempotencyKeyReusedError.code: "the idempotency key was first sent with another request",
    INTERNAL_ERROR: "a failure that is not the caller's to fix; the server log has it",
    StoreUnavailableError.code: "the event store cannot be reached; safe to retry",
    NotCaughtUpError.code: "the read model did not reach the asked version or position in time",
    UnknownCommandTypeError.code: "no handler knows the command type; the message lists those known",
    QueueFullError.code: "the command queue is full; retry after the seconds in Retry-After",
}
"""Every error code eskit's HTTP layer answers, and what it means; the codes of a service's
business rules (DomainError subclasses) come on top."""


def status_of(kind: type[EskitError]) -> int:
    """The HTTP status of a kind of eskit error (500 for one not the caller's to fix)."""
    for known, status in _STATUS:
        if issubclass(kind, known):
            return status
    return 500


def error_responses(*errors: type[EskitError] | str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` of a route that may answer ``errors``: eskit error classes, or
    the codes :data:`METHOD_NOT_ALLOWED` and :data:`INTERNAL_ERROR`.

    One response per status, with the error body's schema and each of its codes named with
    what it means.
    """
    codes: dict[int, list[str]] = {}
    for error in errors:
        status = _OTHER_STATUS[error] if isinstance(error, str) else status_of(error)
        line = f"`{_code(error)}`: {_description(error)}"
        if line not in codes.setdefault(status, []):
            codes[status].append(line)
    return {
        status: {"model": ErrorResponse, "description": "\n\n".join(lines)}
        for status, lines in sorted(codes.items())
    }


def _code(error: type[EskitError] | str) -> str:
    return error if isinstance(error, str) else error.code


def _description(error: type[EskitError] | str) -> str:
    code = _code(error)
    if code in ERROR_DESCRIPTIONS or isinstance(error, str):
        return ERROR_DESCRIPTIONS[code]
    return (error.__doc__ or code).strip().splitlines()[0]


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = error_responses(
    MalformedJsonError,
    UnauthorizedError,
    NotFoundError,
    METHOD_NOT_ALLOWED,
    ConcurrencyError,
    DomainError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    InvalidCommandError,
    INTERNAL_ERROR,
    StoreUnavailableError,
    NotCaughtUpError,
)
"""OpenAPI ``responses`` for routes that may answer with any of eskit's errors; see
:func:`error_responses` for a route's own."""


def status_for(error: EskitError) -> int:
    """The HTTP status of an eskit error (500 for one that is not the caller's to fix)."""
    return status_of(type(error))


def error_response(
    status: int,
    code: str,
    message: str,
    details: Sequence[Mapping[str, Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """An error answer in eskit's shape."""
    body = {"error": {"code": code, "message": message, "details": details}}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Map eskit errors, validation errors and unexpected failures to error answers."""
    app.add_exception_handler(EskitError, _eskit_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected_error)


async def _eskit_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, EskitError)
    status = status_for(exc)
    details = exc.errors if isinstance(exc, InvalidCommandError) else None
    if status == 500:
        return await _unexpected_error(request, exc)
    if status > 500:
        log.error("request %s failed: %s", _request_id(request), exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if isinstance(exc, QueueFullError):
        headers = {"Retry-After": str(max(1, round(exc.retry_after_s)))}
    return error_response(status, exc.code, exc.message, details, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):  # a body read by FastAPI alone
        return error_response(400, MalformedJsonError.code, "the body is not valid JSON")
    details = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "message": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in errors
    ]
    described = describe_field_errors(details, skip=1)
    return error_response(422, InvalidCommandError.code, f"invalid input: {described}", details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    # an HTTPException a service raises itself keeps its status and gets the nearest code
    fallback = INTERNAL_ERROR if exc.status_code >= 500 else InvalidCommandError.code
    code = _HTTP_CODES.get(exc.status_code, fallback)
    headers = exc.headers
    allowed = _allowed_methods(request) if exc.status_code == 405 else ""
    if allowed:
        headers = {**(headers or {}), "Allow": allowed}
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


_HTTP_CODES = {
    400: MalformedJsonError.code,  # FastAPI's answer to a body it could not read
    404: NotFoundError.code,
    405: METHOD_NOT_ALLOWED,
    413: PayloadTooLargeError.code,
    415: UnsupportedMediaTypeError.code,
    422: InvalidCommandError.code,
}
"""The codes of the HTTP errors Starlette and FastAPI raise themselves."""


def _allowed_methods(request: Request) -> str:
    """Every method the path answers: Starlette's 405 names only its first matching route's
    (``Allow: POST`` where the same path also answers GET). Asks the routes themselves, so
    included routers are searched too."""
    routes = request.app.router.routes
    allowed = []
    for method in _METHODS:
        probe = {**request.scope, "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in routes):
            allowed.append(method)
    return ", ".join(allowed)


async def _unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    log.exception("request %s failed unexpectedly", _request_id(request), exc_info=exc)
    return error_response(500, INTERNAL_ERROR, "internal error; see the server log")


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))
