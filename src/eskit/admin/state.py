"""The console's state: its sources, sessions, rebuilds and templates, and how a page is
rendered with them."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from eskit.admin.formatting import FILTERS
from eskit.admin.rebuilds import Rebuilds
from eskit.admin.sessions import COOKIE, ConsoleSessions
from eskit.admin.sources import ConsoleSources
from eskit.settings import EskitSettings

__all__ = ["NAV", "Console"]

HERE = Path(__file__).parent
NAV = (
    ("", "Overview"),
    ("streams", "Streams"),
    ("log", "Log"),
    ("projections", "Projections"),
    ("messaging", "Relay & consumers"),
    ("dead-letters", "Dead letters"),
    ("sagas", "Sagas"),
    ("horizon", "Read horizon"),
)


class Console:
    """The console's state: its sources, sessions, rebuilds and templates.

    ``closing`` is set when the server begins to stop: live pages end their streams.
    """

    def __init__(self, sources: ConsoleSources, settings: EskitSettings, *, title: str) -> None:
        self.sources = sources
        self.title = title
        secret = settings.admin_secret
        key = secret.get_secret_value().encode() if secret else secrets.token_bytes(32)
        self.sessions_lifetime_s = settings.admin_session_s
        self.sessions = ConsoleSessions(
            [k.get_secret_value() for k in settings.api_keys],
            key,
            lifetime_s=settings.admin_session_s,
        )
        self.rebuilds = Rebuilds(sources.store)
        self.closing = asyncio.Event()
        self.templates = jinja2.Environment(
            loader=jinja2.FileSystemLoader(HERE / "templates"),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
        )
        self.templates.filters.update(FILTERS)

    def render(
        self, request: Request, template: str, *, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """``template`` rendered with the page's common context (root, CSRF token, nav)."""
        cookie = request.cookies.get(COOKIE)
        page = self.templates.get_template(template).render(
            root=request.scope.get("root_path", ""),
            csrf=self.sessions.csrf_token(cookie),
            session=self.sessions.required,
            service=self.title,
            nav=NAV,
            active=context.pop("active", ""),
            refresh=context.pop("refresh", None),
            **context,
        )
        return HTMLResponse(page, status_code, headers={"Cache-Control": "no-store"})

    async def stop(self) -> None:
        """End live pages and running rebuilds."""
        self.closing.set()
        await self.rebuilds.stop()
