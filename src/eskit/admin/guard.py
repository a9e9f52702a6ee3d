"""The console's door: a session for every page when API keys are on, safe headers always."""

from __future__ import annotations

from urllib.parse import quote

from starlette.datastructures import Headers
from starlette.requests import cookie_parser
from starlette.responses import PlainTextResponse, RedirectResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eskit.admin.sessions import COOKIE, ConsoleSessions

__all__ = ["ConsoleGuard"]

OPEN = ("/login", "/static/")
"""Paths under the console that need no session."""

SECURITY_HEADERS = [
    # scripts and styles only from the console's own files: no inline script can run
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
        b"form-action 'self'; base-uri 'none'",
    ),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class ConsoleGuard:
    """Sends a browser without a live session to the login page (a page request) or
    answers 401 (anything else), when ``sessions`` requires one; refuses a POST whose
    ``Origin`` is another host; adds security headers to every answer."""

    def __init__(self, app: ASGIApp, sessions: ConsoleSessions) -> None:
        self.app = app
        self.sessions = sessions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path = _console_path(scope)
        if scope["method"] == "POST" and not _same_origin(headers):
            await PlainTextResponse("cross-origin request refused", 403)(scope, receive, send)
            return
        if self.sessions.required and not path.startswith(OPEN):
            cookie = cookie_parser(headers.get("cookie", "")).get(COOKIE)
            if not self.sessions.valid(cookie):
                await _login_first(scope, path, headers)(scope, receive, send)
                return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *SECURITY_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def _console_path(scope: Scope) -> str:
    """The path below the console's mount point (``/projections`` for ``/admin/projections``)."""
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _same_origin(headers: Headers) -> bool:
    origin = headers.get("origin")
    if origin is None or origin == "null":
        return origin is None  # an opaque origin ("null") is never ours
    host = origin.split("://", 1)[-1]
    return host == headers.get("host")


def _login_first(scope: Scope, path: str, headers: Headers) -> RedirectResponse | PlainTextResponse:
    wants_page = scope["method"] == "GET" and "text/html" in headers.get("accept", "")
    if not wants_page:
        return PlainTextResponse("log in to the console first: /admin/login", 401)
    query = scope.get("query_string", b"").decode("latin-1")
    target = path + (f"?{query}" if query else "")
    root = scope.get("root_path", "")
    return RedirectResponse(f"{root}/login?next={quote(target, safe='')}", 303)
