"""eskit's errors as HTTP answers, in one place.

Every error answer has the body ``{"error": {"code", "message", "details"}}``: ``code`` is
stable and meant for programs (``not_found``, ``insufficient_funds``...), ``message`` for
people, ``details`` is the list of bad fields of a validation error (else null).
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

__all__ = [
    "ERROR_RESPONSES",
    "ErrorBody",
    "ErrorResponse",
    "error_response",
    "install_error_handlers",
    "status_for",
]

log = logging.getLogger(__name__)

_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")

_STATUS: tuple[tuple[type[EskitError], int], ...] = (
    (InvalidCommandError, 422),
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


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorResponse, "description": description}
    for status, description in (
        (400, "Malformed JSON"),
        (401, "Missing or invalid API key"),
        (404, "Not found"),
        (409, "Conflict: a business rule or a concurrent change refused the command"),
        (413, "Request body too large"),
        (422, "Invalid input"),
        (503, "The event store is unavailable"),
        (504, "The read model did not catch up in time"),
    )
}
"""OpenAPI ``responses`` for routes that may answer with any of eskit's errors."""


def status_for(error: EskitError) -> int:
    """The HTTP status of an eskit error (500 for one that is not the caller's to fix)."""
    for kind, status in _STATUS:
        if isinstance(error, kind):
            return status
    return 500


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
    if status >= 500:
        log.error("request %s failed: %s", _request_id(request), exc)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return error_response(status, exc.code, exc.message, details, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = list(exc.errors())
    if any(e.get("type") == "json_invalid" for e in errors):
        return error_response(400, "malformed_json", "the request body is not valid JSON")
    details = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "message": e.get("msg", ""),
            "type": e.get("type", ""),
        }
        for e in errors
    ]
    fields = ", ".join(".".join(d["loc"][1:] or d["loc"]) for d in details)
    return error_response(422, "validation_error", f"invalid input: {fields}", details)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
    headers = exc.headers
    allowed = _allowed_methods(request) if exc.status_code == 405 else ""
    if allowed:
        headers = {**(headers or {}), "Allow": allowed}
    return error_response(exc.status_code, code, str(exc.detail), headers=headers)


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
    return error_response(500, "internal_error", "internal error; see the server log")


def _request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", "-"))
