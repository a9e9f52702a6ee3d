"""What the OpenAPI schema declares beyond FastAPI's own: headers and error answers.

:func:`command_route` and :func:`query_route` give a route's decorator its ``responses``
and ``openapi_extra``: the errors the route can answer, and the headers of commands
(``Idempotency-Key`` in, ``ESKIT-Position`` and ``Idempotent-Replayed`` out).
:func:`complete_openapi` adds what every operation has: ``X-Request-ID`` in and out, 405
(FastAPI declares only the methods a path has, not the answer to the others) and 500.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from eskit.app.keys import MAX_KEY_LENGTH
from eskit.errors import (
    ConcurrencyError,
    DuplicateEventError,
    EskitError,
    IdempotencyKeyReusedError,
    InvalidCommandError,
    MalformedJsonError,
    PayloadTooLargeError,
    StoreUnavailableError,
    UnauthorizedError,
    UnsupportedMediaTypeError,
)
from eskit.http.commands import IDEMPOTENCY_HEADER, POSITION_HEADER, REPLAYED_HEADER
from eskit.http.errors import (
    INTERNAL_ERROR,
    METHOD_NOT_ALLOWED,
    ErrorResponse,
    error_responses,
)

__all__ = [
    "COMMAND_ERRORS",
    "QUERY_ERRORS",
    "REQUEST_ID_HEADER",
    "command_route",
    "complete_openapi",
    "query_route",
]

REQUEST_ID_HEADER = "X-Request-ID"

COMMAND_ERRORS: tuple[type[EskitError], ...] = (
    MalformedJsonError,
    UnauthorizedError,
    ConcurrencyError,
    DuplicateEventError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    InvalidCommandError,
    IdempotencyKeyReusedError,
    StoreUnavailableError,
)
"""What any command route may answer, besides its own errors."""

QUERY_ERRORS: tuple[type[EskitError], ...] = (
    UnauthorizedError,
    InvalidCommandError,
    StoreUnavailableError,
)
"""What any query route may answer, besides its own errors."""

_IDEMPOTENCY_KEY = {
    "name": IDEMPOTENCY_HEADER,
    "in": "header",
    "required": False,
    "description": "Makes the command safe to retry: a retry answers the first outcome "
    "and changes nothing; the key sent with another request answers 422.",
    "schema": {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
}
_REQUEST_ID = {
    "name": REQUEST_ID_HEADER,
    "in": "header",
    "required": False,
    "description": "The request's id (1 to 128 of A-Za-z0-9._:-, else a new one is made): "
    "echoed in the answer and recorded as the events' correlation id.",
    "schema": {"type": "string"},
}
_REQUEST_ID_OUT = {
    "description": "The request's id: the caller's if usable, else a new one",
    "schema": {"type": "string"},
    "required": True,
}
_COMMAND_HEADERS = {
    POSITION_HEADER: {
        "description": "The global position of the command's last event: pass it back as "
        "minPosition to read your writes",
        "schema": {"type": "integer", "minimum": 0},
        "required": True,
    },
    REPLAYED_HEADER: {
        "description": "`true` when the answer repeats the first outcome of its idempotency key",
        "schema": {"type": "string", "enum": ["true"]},
        "required": False,
    },
}


def command_route(*errors: type[EskitError], status_code: int = 200) -> dict[str, Any]:
    """Keyword arguments of a command route's decorator: the status it answers, the errors
    it may answer (``errors`` and :data:`COMMAND_ERRORS`), its headers."""
    return {
        "status_code": status_code,
        "responses": {
            status_code: {"headers": _COMMAND_HEADERS},
            **error_responses(*COMMAND_ERRORS, *errors),
        },
        "openapi_extra": {"parameters": [_IDEMPOTENCY_KEY]},
    }


def query_route(*errors: type[EskitError]) -> dict[str, Any]:
    """Keyword arguments of a query route's decorator: the errors it may answer (``errors``
    and :data:`QUERY_ERRORS`)."""
    return {"responses": error_responses(*QUERY_ERRORS, *errors)}


def complete_openapi(app: FastAPI) -> None:
    """Make ``app``'s schema declare, on every operation, the ``X-Request-ID`` header (in
    and out) and the 405 and 500 answers."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _complete(build())
        assert app.openapi_schema is not None
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _complete(schema: dict[str, Any]) -> None:
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    model = ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(model.pop("$defs", {}))
    components.setdefault(ErrorResponse.__name__, model)
    everywhere = error_responses(METHOD_NOT_ALLOWED, INTERNAL_ERROR)
    error_body = {
        "application/json": {"schema": {"$ref": f"#/components/schemas/{ErrorResponse.__name__}"}}
    }
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name") == REQUEST_ID_HEADER for p in parameters):
                parameters.append(_REQUEST_ID)
            responses = operation.setdefault("responses", {})
            for status, response in everywhere.items():
                declared = {key: value for key, value in response.items() if key != "model"}
                responses.setdefault(str(status), {**declared, "content": error_body})
            responses["405"].setdefault("headers", {})["Allow"] = {
                "description": "The methods the path answers",
                "schema": {"type": "string"},
                "required": True,
            }
            for response in responses.values():
                response.setdefault("headers", {}).setdefault(REQUEST_ID_HEADER, _REQUEST_ID_OUT)
