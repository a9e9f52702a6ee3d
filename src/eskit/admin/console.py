"""The admin console's app: pages and actions over a running service, mounted at ``/admin``.

Pages are rendered on the server (Jinja2) and work without JavaScript; htmx and a few lines
of script only refresh them live. Actions are POSTs with a CSRF token, each behind a page
that asks for confirmation. See ``docs/operations.md``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from eskit.admin import actions, pages, streams
from eskit.admin.guard import ConsoleGuard
from eskit.admin.sources import ConsoleSources
from eskit.admin.state import HERE, Console
from eskit.settings import EskitSettings

__all__ = ["admin_app"]


def admin_app(
    sources: ConsoleSources, settings: EskitSettings, *, title: str = "eskit service"
) -> Starlette:
    """The console as an ASGI app to mount at ``/admin``; ``app.state.console`` is its
    :class:`Console`."""
    console = Console(sources, settings, title=title)
    app = Starlette(
        routes=_routes(console),
        middleware=[Middleware(ConsoleGuard, sessions=console.sessions)],
    )
    app.state.console = console
    return app


Handler = Callable[[Console, Request], Awaitable[Response]]


def _routes(console: Console) -> list[BaseRoute]:
    def bound(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(console, request)

        return endpoint

    table: list[tuple[str, Handler, list[str]]] = [
        ("/", pages.overview, ["GET"]),
        ("/login", actions.login_page, ["GET"]),
        ("/login", actions.login, ["POST"]),
        ("/logout", actions.logout, ["POST"]),
        ("/streams", streams.stream_types, ["GET"]),
        ("/streams/type", streams.streams_of_type, ["GET"]),
        ("/stream", streams.stream, ["GET"]),
        ("/log", streams.log, ["GET"]),
        ("/log/live", streams.log_live, ["GET"]),
        ("/projections", pages.projections, ["GET"]),
        ("/projections/confirm", actions.confirm, ["GET"]),
        ("/projections/rebuild", actions.rebuild, ["POST"]),
        ("/projections/park", actions.park, ["POST"]),
        ("/dead-letters/replay", actions.replay, ["POST"]),
        ("/consumers/replay", actions.replay_consumer, ["POST"]),
        ("/messaging", pages.messaging, ["GET"]),
        ("/dead-letters", pages.dead_letters, ["GET"]),
        ("/sagas", pages.sagas, ["GET"]),
        ("/horizon", pages.horizon, ["GET"]),
    ]
    routes: list[BaseRoute] = [
        Route(path, bound(handler), methods=methods) for path, handler, methods in table
    ]
    routes.append(Mount("/static", StaticFiles(directory=HERE / "static"), name="static"))
    return routes
