"""Reading a command's JSON body: its content type, its encoding, its depth, parsed once.

Routes of a router made with ``route_class=JsonBodyRoute`` read their body here before
FastAPI sees it:

* a body must be declared ``application/json`` (or ``application/<something>+json``):
  any other content type, or none, is refused with UnsupportedMediaTypeError (415);
* it must be UTF-8 JSON (RFC 8259) nested at most :data:`MAX_JSON_DEPTH` deep, else
  MalformedJsonError (400), whatever is wrong with it.

The body is parsed once, by orjson, and FastAPI is handed the parsed value. A request with
no body at all is left to the route's validation, which names the missing body (422).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response
from fastapi.routing import APIRoute
from starlette.types import Receive, Scope

from eskit.errors import MalformedJsonError, UnsupportedMediaTypeError

__all__ = ["MAX_JSON_DEPTH", "JsonBodyRoute", "json_request", "parse_json"]

MAX_JSON_DEPTH = 32
"""How deep objects and arrays may nest in a body: far more than any command needs, and
few enough that no later step (validation, logging, storing) recurses far."""

Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class JsonBodyRoute(APIRoute):
    """A route whose JSON body is checked and parsed by :func:`json_request` first."""

    def get_route_handler(self) -> Handler:
        """FastAPI's handler, behind the body check when the route takes a body."""
        handler = super().get_route_handler()
        if self.body_field is None:
            return handler

        async def read_json_first(request: Request) -> Response:
            return await handler(await json_request(request))

        return read_json_first


async def json_request(request: Request) -> Request:
    """``request`` with its body read and parsed, for FastAPI to validate without parsing it
    again. Raises UnsupportedMediaTypeError or MalformedJsonError."""
    content_type = request.headers.get("content-type")
    body = await request.body()
    if not body and content_type is None:
        return request  # no body: the route's validation says it is missing
    if not _is_json(content_type):
        raise UnsupportedMediaTypeError(content_type)
    if not body:
        return request
    return _ParsedRequest(request.scope, request.receive, body, parse_json(body))


def parse_json(body: bytes) -> Any:
    """The JSON value of ``body``; MalformedJsonError if it is not UTF-8, not JSON, or nested
    more than :data:`MAX_JSON_DEPTH` deep."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise MalformedJsonError(_why_malformed(body, exc)) from None
    # each level of nesting opens a bracket: a body with few of them needs no walk
    if body.count(b"{") + body.count(b"[") > MAX_JSON_DEPTH and _too_deep(value):
        raise MalformedJsonError(
            f"the body is not usable JSON: nested more than {MAX_JSON_DEPTH} levels deep"
        )
    return value


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    return kind == "application" and (subtype == "json" or subtype.endswith("+json"))


def _why_malformed(body: bytes, error: orjson.JSONDecodeError) -> str:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"the body is not UTF-8: invalid byte at offset {exc.start}"
    return f"the body is not valid JSON: {error}"


def _too_deep(value: Any) -> bool:
    """Whether ``value`` nests objects and arrays more than :data:`MAX_JSON_DEPTH` deep."""
    if not isinstance(value, dict | list):
        return False
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while stack:
        container, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            return True
        items = container.values() if isinstance(container, dict) else container
        stack.extend((item, depth + 1) for item in items if isinstance(item, dict | list))
    return False


class _ParsedRequest(Request):
    """A request whose body has been read and parsed already."""

    def __init__(self, scope: Scope, receive: Receive, body: bytes, parsed: Any) -> None:
        super().__init__(scope, receive)
        self._raw = body
        self._parsed = parsed

    async def body(self) -> bytes:
        """The body, as read."""
        return self._raw

    async def json(self) -> Any:
        """The body, as parsed."""
        return self._parsed
