"""ASGI middleware: request ids, API keys, the body size limit.

Written against ASGI directly (not Starlette's ``BaseHTTPMiddleware``) so they add no task
per request and leave streaming alone.
"""

from __future__ import annotations

import contextvars
from collections.abc import Collection

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eskit.app.callers import ApiKeys, bearer_token, request_id_from
from eskit.app.metadata import api_key_actor
from eskit.errors import PayloadTooLargeError
from eskit.http.errors import error_response
from eskit.logcontext import log_context

__all__ = [
    "ApiKeyMiddleware",
    "BodyLimitMiddleware",
    "RequestIdMiddleware",
    "current_request_id",
]

current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "eskit_request_id", default="-"
)
"""The id of the request being served, for log records."""


class RequestIdMiddleware:
    """Gives each request an id: the caller's ``X-Request-ID`` if sane, else a new UUIDv7.

    The id is in ``request.state.request_id``, in :data:`current_request_id` and the log
    context (every record logged while the request is served carries it), and echoed in
    the answer's ``X-Request-ID``; commands record it as their events' correlation id.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = _header(scope, b"x-request-id")
        request_id = request_id_from(given)
        scope.setdefault("state", {})["request_id"] = request_id
        token = current_request_id.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        try:
            with log_context(request_id=request_id):
                await self.app(scope, receive, send_with_id)
        finally:
            current_request_id.reset(token)


class ApiKeyMiddleware:
    """With keys configured, refuses calls without ``Authorization: Bearer <one of them>``.

    Paths under ``open_prefixes`` (health checks, API docs) and the ``open_paths``
    themselves stay open. Keys are compared in
    constant time, and only a fingerprint of the key used is kept, as ``request.state.actor``.
    """

    def __init__(
        self,
        app: ASGIApp,
        keys: Collection[str],
        open_prefixes: Collection[str] = (),
        open_paths: Collection[str] = (),
    ) -> None:
        self.app = app
        self._keys = ApiKeys(keys)
        self._open = tuple(open_prefixes)
        self._open_paths = frozenset(open_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._keys or self._is_open(scope["path"]):
            await self.app(scope, receive, send)
            return
        key = bearer_token(_header(scope, b"authorization") or "")
        if not self._keys.known(key):
            response = error_response(
                401,
                "unauthorized",
                "a valid API key is required: Authorization: Bearer <key>",
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)
            return
        scope.setdefault("state", {})["actor"] = api_key_actor(key)
        await self.app(scope, receive, send)

    def _is_open(self, path: str) -> bool:
        return path in self._open_paths or path.startswith(self._open)


class BodyLimitMiddleware:
    """Refuses request bodies over ``limit`` bytes with 413, before reading them whole.

    A declared ``Content-Length`` over the limit is refused at once; a body that streams
    past it (chunked) stops being read: the app's read fails with PayloadTooLargeError,
    and whatever answer the app makes of that failure (a framework may call it a 400) is
    replaced by the 413.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit():
            if int(declared) > self.limit:
                await self._refuse(scope, receive, send)
                return
            # the server reads no more than the declared length as this request's body
            # (any more is the next request on the connection): nothing left to count
            await self.app(scope, receive, send)
            return
        seen = 0
        exceeded = False
        started = False  # the app's answer went out
        refused = False  # the 413 went out instead

        async def counting_receive() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    exceeded = True
                    raise PayloadTooLargeError(self.limit)
            return message

        async def send_or_refuse(message: Message) -> None:
            nonlocal started, refused
            if refused:
                return  # the rest of the app's answer to a refused body
            if message["type"] == "http.response.start" and exceeded and not started:
                refused = True
                await self._refuse(scope, receive, send)
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, send_or_refuse)
        except PayloadTooLargeError:
            if started:
                raise  # too late to answer otherwise
            if not refused:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLargeError(self.limit)
        response = error_response(413, error.code, error.message)
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None
